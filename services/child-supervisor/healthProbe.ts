import { performance } from 'node:perf_hooks';
import type { HealthResult } from '../../machines/childProcess.ts';

/** The reason a request failed, in the words an operator expects. */
function failureReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  switch (e.cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return e.cause?.message ?? e.message ?? String(err);
  }
}

/** One GET of a health URL: healthy on a 2xx answer within `timeoutMs`. Never rejects. */
export async function probeHealth(url: string, timeoutMs: number): Promise<HealthResult> {
  const started = performance.now();
  const took = (): number => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual', headers: { 'user-agent': 'lifeline-child-supervisor' } });
    await res.body?.cancel().catch(() => {});
    return { ok: res.status >= 200 && res.status < 300, status: res.status, reason: `HTTP ${res.status}`, durationMs: took() };
  } catch (err) {
    return { ok: false, reason: failureReason(err, timeoutMs), durationMs: took() };
  }
}
