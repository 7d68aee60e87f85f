/**
 * The raw ceiling of the gateway's memory: a bare Node TCP server speaking just enough of
 * the device protocol for the simulated fleet (answers the hello line with a welcome and a
 * ping with a pong… of nothing: it only holds the socket). No actor, no outbox, no NATS.
 * `node --import tsx test/bench/rawTcpServer.ts <port>`; prints `ready`; stops on SIGTERM.
 */
import { createServer, type Socket } from 'node:net';

const port = Number(process.argv[2]);
if (!Number.isInteger(port)) {
  process.stderr.write('usage: rawTcpServer.ts <port>\n');
  process.exit(2);
}

const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let welcomed = false;
  socket.on('data', (chunk: Buffer) => {
    if (welcomed || !chunk.includes(0x0a)) return;
    welcomed = true;
    const name = /"device"\s*:\s*"([^"]*)"/.exec(chunk.toString('utf8'))?.[1] ?? 'device';
    socket.write(`${JSON.stringify({ type: 'welcome', id: `${socket.remoteAddress}:${name}` })}\n`);
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
const stop = (): void => {
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
