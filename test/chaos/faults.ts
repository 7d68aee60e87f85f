import { subjects } from '../../services/bus/subjects.ts';
import { waitFor } from '../support/waitFor.ts';
import type { ChaosSystem, Role } from './chaosSystem.ts';
import type { ChaosRandom } from './random.ts';

/**
 * The faults a chaos run injects. Each kills one part for real (SIGKILL) and restores it:
 * the same process started again on the same ports (NATS: same ports and store), or, for
 * the Flask child, its supervisor restarting it. `locks` name what a fault takes away, so
 * a fuzz burst never talks to a part that is down at that moment.
 */

export type FaultName = 'nats-node' | 'projector' | 'gateway' | 'flask-child' | 'rpc-backend' | 'esp32-emulator';
export const FAULTS: FaultName[] = ['nats-node', 'projector', 'gateway', 'flask-child', 'rpc-backend', 'esp32-emulator'];

export interface FaultEpisode {
  fault: FaultName;
  target: string;
  atMs: number;
  heldMs: number;
  /** From the restore until the part was healthy again. */
  recoveredMs: number;
  note?: string;
}

export const FAULT_LOCKS: Record<FaultName, string[]> = {
  'nats-node': ['nats'],
  projector: ['projector'],
  gateway: ['gateway'],
  'flask-child': ['flask'],
  'rpc-backend': ['rpc-backend'],
  'esp32-emulator': ['esp32-emulator'],
};

async function hubHealthy(system: ChaosSystem, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await fetch(`${system.httpUrl}/healthz`, { signal: AbortSignal.timeout(2_000) })).status === 200, timeoutMs, 'hub /healthz 200');
}

interface FlaskState {
  ready: boolean;
  pid: number | null;
  /** `state`, `last_error.code` as the hub shows them (for a timeout's message). */
  seen: string;
}

async function flaskState(system: ChaosSystem): Promise<FlaskState> {
  const res = await fetch(`${system.httpUrl}/api/children/flask`, { signal: AbortSignal.timeout(2_000) });
  if (res.status !== 200) return { ready: false, pid: null, seen: `HTTP ${res.status}` };
  const body = (await res.json()) as { ready?: boolean; pid?: number | null; state?: string; last_error?: { code?: string } | null };
  return {
    ready: body.ready === true,
    pid: typeof body.pid === 'number' ? body.pid : null,
    seen: `${body.state ?? '?'} pid ${body.pid ?? '-'}${body.last_error?.code ? ` ${body.last_error.code}` : ''}`,
  };
}

/** Runs one fault: inject, hold for `holdMs`, restore, wait until healthy. */
export async function runFault(system: ChaosSystem, fault: FaultName, rng: ChaosRandom, holdMs: number, startedAt: number): Promise<FaultEpisode> {
  const atMs = Date.now() - startedAt;
  let target: string = fault;
  let note: string | undefined;
  const restartRole = async (role: Role): Promise<void> => {
    await system.kill(role);
    await sleep(holdMs);
  };
  const t0 = Date.now();
  let restoredAt = t0;
  switch (fault) {
    case 'nats-node': {
      target = rng.pick(system.nats.nodes());
      await system.nats.killNode(target);
      await sleep(holdMs);
      restoredAt = Date.now();
      await system.nats.restartNode(target);
      await hubHealthy(system, 30_000);
      // the connections host is back on NATS too once its link answers a ping again
      await waitFor(async () => {
        const reply = await system.admin.nc.request(subjects.linkPing('radio'), '', { timeout: 1_000 });
        return (JSON.parse(reply.string()) as { link?: string }).link === 'radio';
      }, 30_000, 'the ESP32 link answering its ping');
      break;
    }
    case 'projector': {
      // with a standby running, the victim may be the active one or the standby
      const running = system.projectors();
      const victim = rng.pick(running);
      target = `projector ${running.indexOf(victim) + 1}/${running.length} pid ${victim.child.pid}`;
      await victim.kill('SIGKILL');
      await sleep(holdMs);
      restoredAt = Date.now();
      await system.start('projector');
      await hubHealthy(system, 30_000);
      break;
    }
    case 'gateway':
    case 'rpc-backend':
    case 'esp32-emulator': {
      const role: Role = fault;
      await restartRole(role);
      restoredAt = Date.now();
      await system.start(role);
      break;
    }
    case 'flask-child': {
      let seen = '';
      const before = await waitFor(async () => {
        const s = await flaskState(system);
        seen = s.seen;
        return s.ready && s.pid !== null ? s : undefined;
      }, 30_000, 'flask ready with a pid').catch((err: Error) => {
        throw new Error(`${err.message} (last seen: ${seen})`);
      });
      target = `flask pid ${before.pid}`;
      try {
        process.kill(before.pid!, 'SIGKILL');
      } catch (err) {
        note = `kill failed: ${(err as Error).message}`;
      }
      await sleep(holdMs);
      restoredAt = Date.now();
      await waitFor(async () => {
        const s = await flaskState(system);
        seen = s.seen;
        return s.ready && s.pid !== before.pid;
      }, 45_000, 'flask restarted by its supervisor').catch((err: Error) => {
        throw new Error(`${err.message} (last seen: ${seen})`);
      });
      break;
    }
  }
  return { fault, target, atMs, heldMs: restoredAt - t0, recoveredMs: Date.now() - restoredAt, ...(note ? { note } : {}) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
