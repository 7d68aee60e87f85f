import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { setProcessInspector } from '../runtime/host.ts';
import type { RunningService } from './services/runningService.ts';

export const DEFAULT_INSPECT_PORT = 8090;

/**
 * `lifeline up --inspect`: the @statelyai/inspect WebSocket server (its page embeds the
 * hosted Stately inspector, https://stately.ai/inspect, so it needs internet) and an
 * inspector attached to every actor hosted in this process from now on.
 */
export function startInspector(port: number = DEFAULT_INSPECT_PORT): RunningService & { url: string } {
  const server = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}`, maxDeferredEvents: 2_000 });
  setProcessInspector(inspector.inspect);
  const url = `http://localhost:${port}`;
  return {
    name: 'Stately inspector',
    address: `${url} (needs internet: embeds stately.ai/inspect)`,
    url,
    state: () => 'running',
    stop: async () => {
      setProcessInspector(undefined);
      inspector.stop();
      server.stop();
    },
  };
}
