import WebSocket from 'ws';
import { connectSimDevice, type SimBehaviorName, type SimDevice } from '../../infra/device-sim/index.ts';
import type { ChaosRandom } from './random.ts';

/**
 * The load that runs through the chaos: a fleet of simulated devices (reconnected when the
 * gateway drops them), commands submitted through the hub's HTTP intake, WebSocket
 * dashboards connected to /ws, and the "device dies mid-command" fault.
 */

export interface LoadCounts {
  posted: number;
  accepted: number;
  refused: number;
  unavailable: number;
  postErrors: number;
  deviceConnects: number;
  connectFailures: number;
  midCommandCrashes: number;
  wsFrames: number;
  wsReconnects: number;
}

export interface Load {
  counts: LoadCounts;
  /** Command ids answered 202, with the node each one addressed (one node per command). */
  accepted: Map<string, string>;
  /** Stops posting, crashing and reconnecting (devices stay connected). */
  quiesce(): Promise<void>;
  /** Closes every device cleanly. */
  closeDevices(): Promise<void>;
  /** Closes the WebSocket clients; how many were still open. */
  closeWs(): Promise<number>;
}

export interface LoadOptions {
  httpUrl: string;
  devicePort: number;
  random: ChaosRandom;
  devices?: number;
  /** Milliseconds between command submissions (each of 2 posters). */
  postEveryMs?: number;
  /** Milliseconds between two "device dies mid-command" faults. */
  midCommandEveryMs?: [number, number];
  wsClients?: number;
}

const BEHAVIORS: SimBehaviorName[] = ['normal', 'normal', 'normal', 'normal', 'fail', 'no-result'];

export function startLoad(options: LoadOptions): Load {
  const rng = options.random;
  const counts: LoadCounts = { posted: 0, accepted: 0, refused: 0, unavailable: 0, postErrors: 0, deviceConnects: 0, connectFailures: 0, midCommandCrashes: 0, wsFrames: 0, wsReconnects: 0 };
  const accepted = new Map<string, string>();
  const slots: Array<SimDevice | null> = Array.from({ length: options.devices ?? 6 }, () => null);
  let running = true;
  let commandNo = 0;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  const connectSlot = async (i: number): Promise<void> => {
    try {
      const device = await connectSimDevice({
        host: '127.0.0.1',
        port: options.devicePort,
        name: `chaos-d${i}`,
        nodes: 2,
        behavior: BEHAVIORS[i % BEHAVIORS.length]!,
        resultDelayMs: 20 + rng.int(0, 300),
        sendStatusOnConnect: true,
        welcomeTimeoutMs: 3_000,
      });
      slots[i] = device;
      counts.deviceConnects += 1;
    } catch {
      counts.connectFailures += 1;
    }
  };

  const fleet = (async () => {
    while (running) {
      await Promise.all(slots.map((d, i) => (d === null || !d.isOpen ? connectSlot(i) : undefined)));
      await sleep(250);
    }
  })();

  const post = async (device: SimDevice): Promise<void> => {
    commandNo += 1;
    const node = `c${commandNo}`;
    counts.posted += 1;
    try {
      const res = await fetch(`${options.httpUrl}/api/devices/${encodeURIComponent(device.id)}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ node_id: node, command: 'run', instance: 1 + (commandNo % 2), params: { n: commandNo } }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { command_id?: string };
      if (res.status === 202 && body.command_id) {
        counts.accepted += 1;
        accepted.set(body.command_id, node);
      } else if (res.status === 503) counts.unavailable += 1;
      else counts.refused += 1;
    } catch {
      counts.postErrors += 1;
    }
  };

  const open = (): SimDevice[] => slots.filter((d): d is SimDevice => d !== null && d.isOpen);
  const posters = Array.from({ length: 2 }, async () => {
    while (running) {
      const live = open();
      if (live.length > 0) await post(rng.pick(live));
      await sleep(options.postEveryMs ?? 60);
    }
  });

  const [minGap, maxGap] = options.midCommandEveryMs ?? [800, 2_000];
  const midCommand = (async () => {
    while (running) {
      await sleep(rng.int(minGap, maxGap));
      const live = open();
      if (!running || live.length === 0) continue;
      const victim = rng.pick(live);
      // a command on its way, then the device dies (RST) before or after it arrives
      const sent = post(victim);
      await sleep(rng.int(0, 120));
      victim.crash();
      counts.midCommandCrashes += 1;
      await sent;
    }
  })();

  const sockets: WebSocket[] = [];
  const wsUrl = `${options.httpUrl.replace(/^http/, 'ws')}/ws`;
  const openWs = (i: number): void => {
    const ws = new WebSocket(wsUrl);
    sockets[i] = ws;
    ws.on('message', () => (counts.wsFrames += 1));
    ws.on('error', () => {});
    ws.on('close', () => {
      if (!running) return;
      counts.wsReconnects += 1;
      setTimeout(() => running && openWs(i), 500);
    });
  };
  for (let i = 0; i < (options.wsClients ?? 3); i++) openWs(i);

  let stopped: Promise<void> | null = null;
  return {
    counts,
    accepted,
    quiesce: () => (stopped ??= (async () => {
      running = false;
      await Promise.all([fleet, ...posters, midCommand]);
    })()),
    closeDevices: async () => {
      await Promise.all(open().map((d) => d.close(1_000)));
    },
    closeWs: async () => {
      running = false;
      const wasOpen = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.readyState === WebSocket.CLOSED) return resolve();
              s.once('close', () => resolve());
              s.close(1000);
              setTimeout(() => {
                s.terminate();
                resolve();
              }, 2_000);
            }),
        ),
      );
      return wasOpen;
    },
  };
}
