/**
 * The raw ceiling's consumer, run as its own process (like the projector it is compared
 * with): a plain durable pull consumer on stream RAW that acks every message as it
 * arrives, nothing else. `node --import tsx test/bench/rawConsumer.ts <natsUrl> <user> <pass> <stream> <durable>`
 * Prints `ready` once consuming; stops on SIGTERM.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const [url, user, pass, stream, durable] = process.argv.slice(2);
if (!url || !user || !pass || !stream || !durable) {
  process.stderr.write('usage: rawConsumer.ts <natsUrl> <user> <pass> <stream> <durable>\n');
  process.exit(2);
}
const nc = await connect({ servers: url, user, pass, name: 'bench-raw-consumer' });
const jsm = await jetstreamManager(nc);
await jsm.consumers.add(stream, {
  durable_name: durable,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  ack_wait: 30_000_000_000,
  max_ack_pending: 50_000,
});
const consumer = await jetstream(nc).consumers.get(stream, durable);
let received = 0;
const messages = await consumer.consume({
  max_messages: 5_000,
  callback: (msg) => {
    received += 1;
    msg.ack();
  },
});
process.stdout.write('ready\n');
const stop = async (): Promise<void> => {
  await messages.close();
  await nc.drain();
  process.stdout.write(`received ${received}\n`);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
