import net from 'node:net';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { SimDevice } from '../../infra/device-sim/index.ts';
import type { TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import { getJson, type TestSystem } from './testSystem.ts';
import { waitFor } from './waitFor.ts';

/** Helpers shared by the integration tests (real sockets, real NATS; no mocks). */

export const WAIT_MS = 10_000;

export async function waitForFlow(sys: TestSystem, nodeId: string, status: string): Promise<any> {
  return waitFor(
    async () => {
      const res = await getJson(sys, `/api/flows/${encodeURIComponent(nodeId)}`);
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    },
    WAIT_MS,
    `flow ${nodeId} ${status}`,
  );
}

export async function listedDeviceIds(sys: TestSystem): Promise<string[]> {
  const res = await getJson(sys, '/api/devices');
  return (res.body as Array<{ device_id: string }>).map((d) => d.device_id);
}

export async function waitForListed(sys: TestSystem, deviceId: string, listed = true): Promise<void> {
  await waitFor(async () => (await listedDeviceIds(sys)).includes(deviceId) === listed || undefined, WAIT_MS, `${deviceId} ${listed ? '' : 'not '}listed`);
}

/** The device's latest record (optionally of one incarnation). */
export function lastRecord(sys: TestSystem, deviceId: string, incarnation?: string): TransitionRecord | undefined {
  return sys.recordsOf(deviceId).filter((r) => incarnation === undefined || r.incarnation === incarnation).at(-1);
}

/** Waits until the gateway's record of the device shows `n` commands pending (in flight + queued). */
export async function waitForPending(sys: TestSystem, deviceId: string, n: number): Promise<void> {
  await waitFor(
    () => {
      const pending = lastRecord(sys, deviceId)?.context.pending;
      return Array.isArray(pending) && pending.length === n;
    },
    WAIT_MS,
    `${deviceId}: ${n} commands pending`,
  );
}

/** Waits for the `device_state` keys of every instance (the sim sent `status` for each). */
export async function waitForDeviceStateKeys(sys: TestSystem, deviceId: string, nodes: number): Promise<string[]> {
  const keys = Array.from({ length: nodes }, (_, i) => `${encodeToken(deviceId)}.${i + 1}`);
  await waitFor(
    async () => {
      const entries = await sys.kvEntries('device_state');
      return keys.every((k) => k in entries);
    },
    WAIT_MS,
    `device_state keys of ${deviceId}`,
  );
  return keys;
}

/** Every record of every incarnation of the device is numbered 1, 2, 3 … without a gap. */
export function expectGapFree(records: TransitionRecord[]): void {
  expect(records.length).toBeGreaterThan(0);
  const byIncarnation = new Map<string, number[]>();
  for (const r of records) byIncarnation.set(r.incarnation, [...(byIncarnation.get(r.incarnation) ?? []), r.seq]);
  for (const seqs of byIncarnation.values()) expect(seqs).toEqual(seqs.map((_, i) => i + 1));
}

/**
 * After a device failure: the flows of `nodeIds` are failed with `code`, the device's
 * `devices` entry and `device_state` keys are gone, it is not listed, and its records are
 * gap-free and end `from → failed` with `code`.
 */
export async function expectDeviceFailed(
  sys: TestSystem,
  device: { deviceId: string; stateKeys: string[]; nodeIds: string[]; from: string; code: string; incarnation?: string },
): Promise<void> {
  const { deviceId, code } = device;
  for (const nodeId of device.nodeIds) {
    const flow = await waitForFlow(sys, nodeId, 'failed');
    expect(flow.error?.code, `flow ${nodeId}`).toBe(code);
    expect(flow.device_id).toBe(deviceId);
  }
  await waitForListed(sys, deviceId, false);
  await waitFor(
    async () => {
      const devices = await sys.kvEntries('devices');
      const states = await sys.kvEntries('device_state');
      return !(encodeToken(deviceId) in devices) && device.stateKeys.every((k) => !(k in states));
    },
    WAIT_MS,
    `KV entries of ${deviceId} deleted`,
  );
  const last = await waitFor(() => {
    const r = lastRecord(sys, deviceId, device.incarnation);
    return r?.to === 'failed' ? r : undefined;
  }, WAIT_MS, `${deviceId} failed record`);
  const records = sys.recordsOf(deviceId).filter((r) => device.incarnation === undefined || r.incarnation === device.incarnation);
  expectGapFree(records);
  expect(records[0]!.from).toBeNull();
  expect(new Set(records.map((r) => r.incarnation)).size).toBe(1);
  expect({ from: last.from, to: last.to, code: last.error?.code }).toEqual({ from: device.from, to: 'failed', code });
}

/** Closes a sim device if it is still open; never throws. */
export async function closeAll(devices: Array<SimDevice | undefined>): Promise<void> {
  await Promise.all(devices.map((d) => (d?.isOpen ? d.close(500) : undefined)));
}

/** A raw TCP client: everything received, whether and how the socket closed. */
export interface RawClient {
  socket: net.Socket;
  received(): string;
  lines(): string[];
  closed: Promise<void>;
  isClosed(): boolean;
}

export async function rawConnect(port: number): Promise<RawClient> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closedPromise = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const received = (): string => Buffer.concat(chunks).toString('utf8');
  return {
    socket,
    received,
    lines: () => received().split('\n').filter((l) => l.length > 0),
    closed: closedPromise,
    isClosed: () => closed,
  };
}

/** A `/ws` client that keeps every frame it received. */
export interface WsClient {
  ws: WebSocket;
  frames: any[];
  /** Resolves with the first frame at index ≥ `from` that satisfies `match`. */
  next(match: (frame: any) => boolean, from?: number): Promise<any>;
  close(): Promise<void>;
}

export async function wsConnect(sys: TestSystem): Promise<WsClient> {
  const ws = new WebSocket(`${sys.httpUrl.replace(/^http/, 'ws')}/ws`);
  const frames: any[] = [];
  ws.on('message', (data) => {
    const text = data.toString();
    try {
      frames.push(JSON.parse(text));
    } catch {
      frames.push({ unparsable: text });
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await waitFor(() => frames.some((f) => f.type === 'welcome'), WAIT_MS, 'ws welcome');
  return {
    ws,
    frames,
    next: (match, from = 0) => waitFor(() => frames.slice(from).find(match), WAIT_MS, 'a matching ws frame'),
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      await done;
    },
  };
}
