import type { SimBehavior } from './behavior.ts';
import { pickDistinct, seededRandom } from './random.ts';
import { SimDeviceError, connectSimDevice, type SimDevice, type SimDeviceOptions } from './simDevice.ts';

export interface SimFleetOptions {
  host: string;
  port: number;
  count: number;
  /** Node instances per device (default 1). */
  nodes?: number;
  /** One behavior for all, or one per device (index is 1-based, like the name). */
  behavior?: SimBehavior | ((index: number, name: string) => SimBehavior);
  /** Devices are named `<namePrefix><index>`, index from 1 (default `dev`). */
  namePrefix?: string;
  /** Connections in flight (hello sent, welcome not yet received) at most (default 100). */
  concurrency?: number;
  resultDelayMs?: number;
  sendStatusOnConnect?: boolean;
  welcomeTimeoutMs?: number;
}

export interface SimFleet {
  /** In index order: `devices[0]` is `<prefix>1`. */
  readonly devices: readonly SimDevice[];
  get(name: string): SimDevice | undefined;
  /** Closes every device cleanly (FIN) and resolves when every socket is closed. */
  closeAll(): Promise<void>;
  /** Crashes (RST) `n` distinct open devices chosen by a PRNG seeded with `seed`; returns them. */
  crashRandom(n: number, seed?: number): SimDevice[];
}

export const DEFAULT_FLEET_CONCURRENCY = 100;

/**
 * Connects `count` devices with at most `concurrency` handshakes in flight. If any device fails
 * to connect, no further device is started, the connected ones are closed, and the promise
 * rejects with `FLEET_CONNECT_FAILED` (cause: the first failure).
 */
export async function connectSimFleet(opts: SimFleetOptions): Promise<SimFleet> {
  const prefix = opts.namePrefix ?? 'dev';
  const concurrency = opts.concurrency ?? DEFAULT_FLEET_CONCURRENCY;
  if (!Number.isInteger(opts.count) || opts.count < 0) {
    throw new SimDeviceError('INVALID_OPTIONS', `${prefix}*`, `count must be an integer ≥ 0 (got ${opts.count})`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SimDeviceError('INVALID_OPTIONS', `${prefix}*`, `concurrency must be an integer ≥ 1 (got ${concurrency})`);
  }

  const devices = new Array<SimDevice | undefined>(opts.count);
  let next = 0;
  let firstError: unknown;

  const deviceOptions = (index: number): SimDeviceOptions => {
    const name = `${prefix}${index}`;
    const behavior = typeof opts.behavior === 'function' ? opts.behavior(index, name) : opts.behavior;
    return {
      host: opts.host,
      port: opts.port,
      name,
      ...(opts.nodes !== undefined && { nodes: opts.nodes }),
      ...(behavior !== undefined && { behavior }),
      ...(opts.resultDelayMs !== undefined && { resultDelayMs: opts.resultDelayMs }),
      ...(opts.sendStatusOnConnect !== undefined && { sendStatusOnConnect: opts.sendStatusOnConnect }),
      ...(opts.welcomeTimeoutMs !== undefined && { welcomeTimeoutMs: opts.welcomeTimeoutMs }),
    };
  };

  const worker = async (): Promise<void> => {
    while (firstError === undefined && next < opts.count) {
      const slot = next++;
      try {
        devices[slot] = await connectSimDevice(deviceOptions(slot + 1));
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, opts.count) }, worker));

  const connected = devices.filter((d): d is SimDevice => d !== undefined);
  if (firstError !== undefined) {
    await Promise.all(connected.map((d) => d.close()));
    const reason = firstError instanceof Error ? firstError.message : String(firstError);
    throw new SimDeviceError('FLEET_CONNECT_FAILED', `${prefix}*`, `connected ${connected.length} of ${opts.count} devices; first failure: ${reason}`, {
      cause: firstError,
    });
  }
  return createFleet(connected);
}

function createFleet(devices: readonly SimDevice[]): SimFleet {
  let byName: Map<string, SimDevice> | undefined;
  return {
    devices,
    get(name) {
      byName ??= new Map(devices.map((d) => [d.name, d]));
      return byName.get(name);
    },
    async closeAll() {
      await Promise.all(devices.map((d) => d.close()));
    },
    crashRandom(n, seed = Date.now()) {
      const victims = pickDistinct(
        devices.filter((d) => d.isOpen),
        n,
        seededRandom(seed),
      );
      for (const device of victims) device.crash();
      return victims;
    },
  };
}
