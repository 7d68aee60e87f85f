import { envelopeSchema } from './frames.ts';

/** A part of the page fed by the hub: what it subscribes to, how it loads, what it does with a frame. */
export interface Panel {
  topics: readonly string[];
  /** (Re)loads the panel's list over REST; runs at start and after every reconnect. */
  load(): Promise<void>;
  onFrame(frame: { type: string } & Record<string, unknown>): void;
}

export interface HubSocketEvents {
  open(): void;
  close(): void;
  /** Every frame that is a JSON object with a `type`, before it reaches the panels. */
  frame?(frame: { type: string }): void;
}

/**
 * The dashboard's `/ws` connection: subscribes to the panels' topics, hands every frame to
 * every panel, answers the hub's pings, and reconnects (then reloads the panels) a second
 * after it closes.
 */
export function connectHub(panels: Panel[], events: HubSocketEvents): void {
  const topics = [...new Set(panels.flatMap((p) => p.topics))];
  const open = (): void => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ type: 'subscribe', topics }));
      events.open();
      void Promise.all(panels.map((p) => p.load()));
    });
    ws.addEventListener('message', (m) => {
      let json: unknown;
      try {
        json = JSON.parse(String(m.data));
      } catch {
        return;
      }
      const frame = envelopeSchema.safeParse(json);
      if (!frame.success) return;
      if (frame.data.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
      events.frame?.(frame.data);
      for (const p of panels) p.onFrame(frame.data);
    });
    ws.addEventListener('close', () => {
      events.close();
      setTimeout(open, 1_000);
    });
  };
  open();
}
