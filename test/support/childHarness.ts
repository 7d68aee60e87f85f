import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../infra/nats/index.ts';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { childSpecSchema } from '../../services/child-supervisor/childSpec.ts';
import { startChildServices, type ChildService } from '../../services/cli/services/childServices.ts';
import { startTestSystem, type TestSystem } from './testSystem.ts';
import { waitFor } from './waitFor.ts';

/** Helpers of the child-supervisor integration tests: real processes, real NATS, no mocks. */

export const CHILD_FIXTURES = fileURLToPath(new URL('../integration/child-fixtures/', import.meta.url));
export const FLASK_APP = fileURLToPath(new URL('../../infra/flask-app/app.py', import.meta.url));
/** Debian's python3: the fixtures need only its standard library. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Short timings so every scenario runs in seconds (production defaults are in childSpec.ts). */
export const FAST_TIMING = {
  validationRetryDelay: 100,
  healthCheckInterval: 100,
  healthCheckMaxInterval: 300,
  healthCheckTimeout: 8_000,
  healthCheckRequestTimeout: 500,
  livenessInterval: 0,
  restartDelay: 100,
  restartMaxDelay: 400,
  restartJitter: 0,
  stablePeriod: 60_000,
  shutdownTimeout: 1_000,
} as const;

export interface ChildTestSystem extends TestSystem {
  /** Every record seen on `conn.child.>`, in arrival order. */
  childRecords: TransitionRecord[];
  childRecordsOf(name: string): TransitionRecord[];
  /** Starts supervisors for `specs` (FAST_TIMING under them) in this process. */
  supervise(...specs: Array<Record<string, unknown>>): Promise<ChildService[]>;
  stopAll(): Promise<void>;
}

export async function startChildTestSystem(): Promise<ChildTestSystem> {
  const sys = await startTestSystem({ gateway: false });
  const childRecords: TransitionRecord[] = [];
  sys.admin.nc.subscribe('conn.child.>', {
    callback: (_err, msg) => {
      const parsed = parseJsonWith(transitionRecordSchema, 'record', msg.data);
      if (parsed.ok) childRecords.push(parsed.value);
    },
  });
  await sys.admin.nc.flush();
  const running: ChildService[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(running.splice(0).map((s) => s.stop().catch(() => {})));
  };
  const stopSystem = sys.stop.bind(sys);
  return Object.assign(sys, {
    childRecords,
    childRecordsOf: (name: string) => childRecords.filter((r) => r.id === name),
    async supervise(...specs: Array<Record<string, unknown>>) {
      const parsed = specs.map((s) => childSpecSchema.parse({ ...FAST_TIMING, ...s }));
      const services = await startChildServices(sys.endpoint, sys.config, parsed, { baseDir: CHILD_FIXTURES, random: () => 0.5 });
      running.push(...services);
      return services;
    },
    stopAll,
    stop: async () => {
      await stopAll();
      await stopSystem();
    },
  });
}

/** Waits until the supervisor's state path starts with `prefix`; returns the path. */
export function untilState(service: ChildService, prefix: string, timeoutMs = 15_000): Promise<string> {
  return service.supervisor.waitFor((path) => path.startsWith(prefix), timeoutMs);
}

/** True while a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitUntilGone(pid: number, timeoutMs = 5_000): Promise<void> {
  await waitFor(() => !isAlive(pid), timeoutMs, `pid ${pid} gone`);
}

/** A real listener holding a free port (the PORT_IN_USE scenario). */
export async function holdPort(): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const port = await freePort();
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  return { port, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
