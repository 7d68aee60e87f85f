import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import type { InspectionEvent } from 'xstate';
import { setProcessInspector } from '../runtime/host.ts';
import type { RunningService } from './services/runningService.ts';

export const DEFAULT_INSPECT_PORT = 8090;

/**
 * How often every live actor is announced again. The inspector server hands a client that
 * connects only the last 200 messages, so without this a browser opened a minute after
 * `lifeline up` would never see the actors started before (their `@xstate.actor` gone).
 */
export const REANNOUNCE_INTERVAL_MS = 3_000;

/**
 * `lifeline up --inspect` (and `run --inspect`): the @statelyai/inspect WebSocket server
 * (its page embeds the hosted Stately inspector, https://stately.ai/inspect, so it needs
 * internet) and an inspector attached to every actor hosted in this process from now on.
 * Every live actor (not the short-lived ones it invokes) is announced again every
 * REANNOUNCE_INTERVAL_MS with its current snapshot, so a client connecting at any time
 * sees every machine within that delay.
 */
export function startInspector(port: number = DEFAULT_INSPECT_PORT): RunningService & { url: string } {
  const server = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}`, maxDeferredEvents: 2_000 });
  const live = new Map<string, InspectionEvent['actorRef']>();
  setProcessInspector((event: InspectionEvent) => {
    if (event.type === '@xstate.actor' && event.actorRef.sessionId === event.rootId) live.set(event.rootId, event.actorRef);
    inspector.inspect.next?.(event);
  });
  const reannounce = setInterval(() => {
    for (const [sessionId, actorRef] of live) {
      if (actorRef.getSnapshot().status !== 'active') live.delete(sessionId);
      else inspector.inspect.next?.({ type: '@xstate.actor', actorRef, rootId: sessionId });
    }
  }, REANNOUNCE_INTERVAL_MS);
  reannounce.unref();
  const url = `http://localhost:${port}`;
  return {
    name: 'Stately inspector',
    address: `${url} (needs internet: embeds stately.ai/inspect)`,
    url,
    state: () => `running, ${live.size} live actor(s)`,
    stop: async () => {
      clearInterval(reannounce);
      setProcessInspector(undefined);
      live.clear();
      inspector.stop();
      server.stop();
    },
  };
}
