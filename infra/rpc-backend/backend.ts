import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A real JSON-RPC 2.0 server over HTTP (`POST /rpc`) answering the dashboard's methods
 * (`system_status`, `storage_info`, `agent_status`, `compression_jobs`), with faults that
 * can be switched at run time: the RPC poller's peer in tests, the benchmark and the demo.
 *
 *   healthy       every call answered
 *   down          the port is closed: connection refused (the sockets open are destroyed)
 *   slow          every answer waits `delayMs`
 *   http500       HTTP 500 with a JSON-RPC internal error
 *   malformed     HTTP 200 with a body that is not JSON
 *   intermittent  each request fails (HTTP 500) with probability `rate`, else is answered
 */
export type FaultMode = 'healthy' | 'down' | 'slow' | 'http500' | 'malformed' | 'intermittent';
export const FAULT_MODES: readonly FaultMode[] = ['healthy', 'down', 'slow', 'http500', 'malformed', 'intermittent'];

export interface Fault {
  mode: FaultMode;
  /** slow: the delay of every answer. */
  delayMs?: number;
  /** intermittent: the probability (0 … 1) that a request fails. */
  rate?: number;
}

export interface RpcBackendOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  fault?: Fault;
  /** Extra bytes of padding in every `storage_info` result (load tests, slow-client tests). */
  payloadBytes?: number;
  /** [0, 1) source of the intermittent failures. */
  random?: () => number;
}

export interface RpcBackendStats {
  requests: number;
  answered: number;
  failed: number;
  byMethod: Record<string, number>;
}

export interface RpcBackend {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  fault(): Fault;
  /** Switches the fault mode (`down` closes the port, leaving it reopens it on the same port). */
  setFault(fault: Fault): Promise<void>;
  setPayloadBytes(bytes: number): void;
  stats(): RpcBackendStats;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

interface RpcRequest {
  jsonrpc?: unknown;
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

export async function startRpcBackend(options: RpcBackendOptions = {}): Promise<RpcBackend> {
  const host = options.host ?? '127.0.0.1';
  const random = options.random ?? Math.random;
  const startedAt = Date.now();
  let fault: Fault = options.fault ?? { mode: 'healthy' };
  let payloadBytes = options.payloadBytes ?? 0;
  let served = 0;
  const stats: RpcBackendStats = { requests: 0, answered: 0, failed: 0, byMethod: {} };
  const sockets = new Set<Socket>();

  const results: Record<string, () => unknown> = {
    system_status: () => ({
      hostname: 'rpc-backend',
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      cpu_percent: Math.round(20 + 30 * Math.abs(Math.sin(served / 7))),
      memory_percent: Math.round(40 + 10 * Math.abs(Math.cos(served / 11))),
      served,
      at: new Date().toISOString(),
    }),
    storage_info: () => ({
      volumes: [
        { mount: '/', total_gb: 512, used_gb: 201 + (served % 7) },
        { mount: '/data', total_gb: 4096, used_gb: 2710 + (served % 13) },
      ],
      served,
      ...(payloadBytes > 0 ? { padding: 'x'.repeat(payloadBytes) } : {}),
    }),
    agent_status: () => ({
      agents: [
        { name: 'ingest', state: 'running', last_seen: new Date().toISOString() },
        { name: 'indexer', state: served % 10 === 0 ? 'restarting' : 'running', last_seen: new Date().toISOString() },
      ],
      served,
    }),
    compression_jobs: () => ({
      jobs: [{ id: `job-${Math.floor(served / 4)}`, state: 'running', progress: (served * 7) % 100 }],
      queued: served % 5,
      served,
    }),
  };

  function answer(req: RpcRequest): Record<string, unknown> | null {
    const id = typeof req.id === 'string' || typeof req.id === 'number' ? req.id : null;
    if (req.jsonrpc !== '2.0' || typeof req.method !== 'string') {
      return { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id };
    }
    stats.byMethod[req.method] = (stats.byMethod[req.method] ?? 0) + 1;
    const result = results[req.method];
    if (!result) return { jsonrpc: '2.0', error: { code: -32601, message: `Method not found: ${req.method}` }, id };
    served += 1;
    if (req.id === undefined) return null; // a notification
    return { jsonrpc: '2.0', result: result(), id };
  }

  function send(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests += 1;
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/rpc') {
      stats.failed += 1;
      return send(res, 404, JSON.stringify({ error: 'POST /rpc' }));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) {
        stats.failed += 1;
        return send(res, 413, JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message: 'request too large' }, id: null }));
      }
      chunks.push(chunk);
    }
    const current = fault;
    if (current.mode === 'slow') await new Promise((r) => setTimeout(r, current.delayMs ?? 5_000));
    const failNow = current.mode === 'http500' || (current.mode === 'intermittent' && random() < (current.rate ?? 0.3));
    if (failNow) {
      stats.failed += 1;
      return send(res, 500, JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error (scripted fault)' }, id: null }));
    }
    if (current.mode === 'malformed') {
      stats.failed += 1;
      return send(res, 200, '{"jsonrpc":"2.0","result":{"truncated');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      stats.failed += 1;
      return send(res, 200, JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }));
    }
    stats.answered += 1;
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return send(res, 200, JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }));
      const answers = parsed.map((r) => answer((r ?? {}) as RpcRequest)).filter((a) => a !== null);
      if (answers.length === 0) return void res.writeHead(204).end();
      return send(res, 200, JSON.stringify(answers));
    }
    const single = answer((parsed ?? {}) as RpcRequest);
    if (single === null) return void res.writeHead(204).end();
    send(res, 200, JSON.stringify(single));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const unlisten = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });

  let port = options.port ?? 0;
  port = await listen(port);
  if (fault.mode === 'down') await unlisten();

  return {
    host,
    port,
    url: `http://${host}:${port}/rpc`,
    fault: () => ({ ...fault }),
    async setFault(next) {
      fault = { ...next };
      if (next.mode === 'down') await unlisten();
      else if (!server.listening) await listen(port);
    },
    setPayloadBytes(bytes) {
      payloadBytes = Math.max(0, bytes);
    },
    stats: () => ({ ...stats, byMethod: { ...stats.byMethod } }),
    close: unlisten,
  };
}
