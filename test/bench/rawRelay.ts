/**
 * The raw ceiling's relays, each its own process like the Lifeline service it stands for,
 * doing the same hops with none of Lifeline's work (no parsing, reducing, KV, actors):
 *
 *   node --import tsx test/bench/rawRelay.ts js-to-core <natsUrl> <user> <pass> <stream> <durable> <outSubject>
 *     a durable pull consumer (AckPolicy.All, like the projector) that publishes every message
 *     it receives (body `<id>;<fanout>`) `fanout` times on core NATS (`<outSubject>`, body
 *     `<id>:<i>`) and acks — the projector's hop without the projector.
 *   node --import tsx test/bench/rawRelay.ts core-to-ws <natsUrl> <user> <pass> <subject> <wsPort>
 *     subscribes to `subject` and sends every message to every WebSocket client connected to
 *     ws://127.0.0.1:<wsPort>/ — the hub's hop without the hub.
 *
 * Prints `ready` once relaying; stops on SIGTERM.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WebSocketServer } from 'ws';

const [mode, url, user, pass, ...rest] = process.argv.slice(2);
if (!url || !user || !pass || (mode !== 'js-to-core' && mode !== 'core-to-ws')) {
  process.stderr.write('usage: rawRelay.ts js-to-core|core-to-ws <natsUrl> <user> <pass> …\n');
  process.exit(2);
}
const nc = await connect({ servers: url, user, pass, name: `bench-raw-${mode}` });
const stop = mode === 'js-to-core' ? await relayJetStreamToCore(nc, rest) : await relayCoreToWebSocket(nc, rest);
process.stdout.write('ready\n');
const shutdown = async (): Promise<void> => {
  await stop();
  await nc.drain();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

async function relayJetStreamToCore(conn: NatsConnection, args: string[]): Promise<() => Promise<void>> {
  const [stream, durable, outSubject] = args;
  if (!stream || !durable || !outSubject) throw new Error('js-to-core: <stream> <durable> <outSubject>');
  const jsm = await jetstreamManager(conn);
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.New, ack_wait: 30_000_000_000, max_ack_pending: 50_000 });
  const consumer = await jetstream(conn).consumers.get(stream, durable);
  let last: JsMsg | undefined;
  let scheduled = false;
  const messages = await consumer.consume({
    max_messages: 5_000,
    callback: (msg) => {
      const [id, fanoutText] = msg.string().split(';');
      const fanout = Number(fanoutText) || 1;
      for (let i = 0; i < fanout; i++) conn.publish(outSubject, `${id}:${i}`);
      last = msg;
      if (!scheduled) {
        scheduled = true;
        // ack once per burst, like the projector's ack of a batch's last message
        setImmediate(() => {
          scheduled = false;
          last?.ack();
        });
      }
    },
  });
  return async () => void (await messages.close());
}

async function relayCoreToWebSocket(conn: NatsConnection, args: string[]): Promise<() => Promise<void>> {
  const [subject, portText] = args;
  const port = Number(portText);
  if (!subject || !Number.isInteger(port)) throw new Error('core-to-ws: <subject> <wsPort>');
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const sub = conn.subscribe(subject, {
    callback: (_err, msg) => {
      const text = msg.string();
      for (const client of wss.clients) client.send(text);
    },
  });
  return async () => {
    sub.unsubscribe();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
