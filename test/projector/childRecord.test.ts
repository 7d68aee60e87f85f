import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { childProcessMachine, summarizeChildProcess } from '../../machines/childProcess.ts';
import type { TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { createMemoryBackend } from '../../services/projector/backend.ts';
import { projectMessage } from '../../services/projector/projectMessage.ts';
import { createProjectionStore } from '../../services/projector/projectionStore.ts';
import { childKey, projectChildRecord } from '../../services/projector/reducers/childRecord.ts';

/** A real summary of the machine, so the reducer's schema is checked against what the machine writes. */
function summary() {
  const actor = createActor(childProcessMachine, {
    clock: new SimulatedClock(),
    input: {
      child: {
        name: 'flask',
        external: false,
        command: 'python3',
        args: ['app.py'],
        cwd: '/srv',
        script: 'app.py',
        python: true,
        requires: [],
        host: '127.0.0.1',
        port: 5001,
        url: 'http://127.0.0.1:5001',
        healthUrl: 'http://127.0.0.1:5001/health',
      },
    },
  });
  return summarizeChildProcess(actor.getSnapshot().context);
}

function record(to: string, seq: number, incarnation = 'inc-a', context: Record<string, unknown> = summary()): TransitionRecord {
  return { v: 1, kind: 'child', id: 'flask', incarnation, seq, at: new Date(seq * 1000).toISOString(), from: null, to, event: 'e', context };
}

describe('projectChildRecord', () => {
  it('puts the status under token(name), with ready / restarting derived from the state', () => {
    const ready = projectChildRecord(record('ready', 3));
    expect(ready).toMatchObject({ ok: true, effects: [{ op: 'put', bucket: 'children', key: childKey('flask'), version: { incarnation: 'inc-a', seq: 3 } }] });
    const value = (r: ReturnType<typeof projectChildRecord>) => (r.ok ? (r.effects[0] as { value: Record<string, unknown> }).value : null);
    expect(value(ready)).toMatchObject({ name: 'flask', state: 'ready', ready: true, restarting: false });
    expect(value(projectChildRecord(record('restarting.backoff', 4)))).toMatchObject({ ready: false, restarting: true });
    expect(value(projectChildRecord(record('starting.validating', 5, 'inc-a', { ...summary(), restart_attempts: 1 })))).toMatchObject({ restarting: true });
    expect(value(projectChildRecord(record('starting.validating', 1)))).toMatchObject({ restarting: false });
    expect(value(projectChildRecord(record('failed.idle', 6)))).toMatchObject({ ready: false, restarting: false });
  });

  it('rejects a context that is not a child summary', () => {
    expect(projectChildRecord(record('ready', 1, 'inc-a', { name: 'flask' })).ok).toBe(false);
  });

  it('an older record never overwrites a newer one; a new incarnation wins (via the projector)', async () => {
    const backend = createMemoryBackend();
    const store = createProjectionStore(backend);
    const apply = async (r: TransitionRecord) => {
      const projected = projectMessage(`conn.child.flask.${r.to.split('.')[0]}`, new TextEncoder().encode(JSON.stringify(r)));
      if (!projected.ok) throw new Error(projected.error);
      await store.apply(projected.effects);
    };
    await apply(record('ready', 5));
    await apply(record('starting.validating', 2));
    expect(backend.dump().children![childKey('flask')]).toMatchObject({ state: 'ready', seq: 5 });
    await apply(record('starting.validating', 1, 'inc-b'));
    expect(backend.dump().children![childKey('flask')]).toMatchObject({ state: 'starting.validating', incarnation: 'inc-b' });
  });
});
