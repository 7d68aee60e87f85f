import type { FastifyInstance } from 'fastify';
import type { AnyStateMachine } from 'xstate';
import { childProcessMachine } from '../../../machines/childProcess.ts';
import { deviceSocketMachine } from '../../../machines/deviceSocket.ts';
import { esp32LinkMachine } from '../../../machines/esp32Link.ts';
import { rpcPollerMachine } from '../../../machines/rpcPoller.ts';
import { telemetryPublisherMachine } from '../../../machines/telemetryPublisher.ts';
import { wsClientMachine } from '../../../machines/wsClient.ts';
import type { Kind } from '../../bus/subjects.ts';
import type { StateNodeJson } from '../../../dashboard/src/machineJson.ts';

/** The machine of each actor kind. */
export const MACHINES: Record<Kind, AnyStateMachine> = {
  device: deviceSocketMachine,
  telemetry: telemetryPublisherMachine,
  child: childProcessMachine,
  rpc: rpcPollerMachine,
  link: esp32LinkMachine,
  client: wsClientMachine,
};


function guardName(guard: unknown): string | undefined {
  if (!guard) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard) return String(guard.type);
  return 'guard';
}

/**
 * A state node's definition reduced to what the diagram needs (XState's `definition`
 * carries functions and parent links; this is plain JSON).
 */
function nodeJson(node: AnyStateMachine['root']): StateNodeJson {
  const def = node.definition;
  const transitions: StateNodeJson['transitions'] = [];
  for (const t of def.transitions) {
    const targets = (t.target ?? []).map((s: { id: string }) => s.id);
    const event = t.eventType;
    const guard = guardName(t.guard);
    transitions.push({ event, targets, ...(guard ? { guard } : {}), ...(event.startsWith('xstate.after.') ? { delayed: true } : {}) });
  }
  for (const t of node.always ?? []) {
    transitions.push({ event: 'always', targets: (t.target ?? []).map((s: { id: string }) => s.id) });
  }
  const initial = node.initial?.target?.[0]?.key;
  return {
    id: node.id,
    path: node.path.join('.'),
    key: node.key,
    type: node.type,
    ...(initial ? { initial } : {}),
    states: Object.fromEntries(Object.entries(node.states).map(([k, child]) => [k, nodeJson(child)])),
    transitions,
    invoke: def.invoke.map((i: { id: string; src: unknown }) => ({ id: i.id, src: typeof i.src === 'string' ? i.src : i.id })),
  };
}

export function machineJson(kind: Kind): { kind: Kind; id: string; root: StateNodeJson } {
  const machine = MACHINES[kind];
  return { kind, id: machine.id, root: nodeJson(machine.root) };
}

/** `GET /api/machines`: every machine's definition, by kind, for the dashboard's diagrams. */
export function registerMachineRoutes(app: FastifyInstance): void {
  const all = (Object.keys(MACHINES) as Kind[]).map(machineJson);
  app.get('/api/machines', async () => all);
}
