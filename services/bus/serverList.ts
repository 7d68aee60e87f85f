import { z } from 'zod';

const SCHEMES = new Set(['nats:', 'tls:', 'ws:', 'wss:']);

/** `nats://host:port` (or tls://, ws://, wss://), or a bare `host:port` as nats clients take it. */
function isServerUrl(text: string): boolean {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `nats://${text}`;
  try {
    const url = new URL(withScheme);
    return SCHEMES.has(url.protocol) && url.hostname !== '' && (url.pathname === '' || url.pathname === '/');
  } catch {
    return false;
  }
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim());
}

/**
 * NATS_URL: one server or a comma-separated list of the nodes of a cluster
 * (`nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222`). The text is kept
 * as it is (it is also what is shown); `natsServerList` turns it into the list.
 */
export const natsUrlSchema = z.string().superRefine((text, ctx) => {
  const bad = splitList(text).filter((s) => !isServerUrl(s));
  if (bad.length === 0) return;
  ctx.addIssue({
    code: 'custom',
    message:
      'expected nats://host:port or a comma-separated list of them; ' +
      `not a NATS server URL: ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
  });
});

/** The servers to connect to: a list (kept) or a NATS_URL text (split on commas). */
export function natsServerList(servers: string | readonly string[]): string[] {
  const list = typeof servers === 'string' ? splitList(servers) : [...servers];
  return list.filter((s) => s !== '');
}
