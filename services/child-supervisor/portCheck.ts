import { createServer } from 'node:net';

export type PortCheck = { free: true } | { free: false; errno: string; message: string };

/**
 * Whether `host:port` can be listened on right now: binds it exclusively and lets it go.
 * A clash with any listener (also one on 0.0.0.0) reports EADDRINUSE.
 */
export function checkPortFree(host: string, port: number): Promise<PortCheck> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => resolve({ free: false, errno: err.code ?? 'UNKNOWN', message: err.message }));
    server.listen({ host: host.replace(/^\[|\]$/g, ''), port, exclusive: true }, () => server.close(() => resolve({ free: true })));
  });
}
