import WebSocket from 'ws';
import { waitFor } from './waitFor.ts';

/** A real `ws` client of the hub that keeps every frame it receives (and its close). */
export interface WsProbe {
  ws: WebSocket;
  id: string;
  frames: any[];
  closed: { code: number; reason: string } | null;
  of(type: string, from?: number): any[];
  next(match: (f: any) => boolean, from?: number, timeoutMs?: number): Promise<any>;
  /** Stops reading: the TCP receive window fills and the hub's send queue grows. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function wsProbe(httpUrl: string, timeoutMs = 10_000): Promise<WsProbe> {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws`);
  const frames: any[] = [];
  const probe: WsProbe = {
    ws,
    id: '',
    frames,
    closed: null,
    of: (type, from = 0) => frames.slice(from).filter((f) => f.type === type),
    next: (match, from = 0, t = timeoutMs) => waitFor(() => frames.slice(from).find(match), t, 'a matching ws frame'),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      await done;
    },
  };
  ws.on('message', (data) => {
    try {
      frames.push(JSON.parse(data.toString()));
    } catch {
      frames.push({ unparsable: data.toString() });
    }
  });
  ws.on('close', (code, reason) => (probe.closed = { code, reason: reason.toString() }));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const welcome = await probe.next((f) => f.type === 'welcome');
  probe.id = welcome.client_id;
  return probe;
}
