import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { RpcCallInput, RpcCallResult } from '../../machines/rpcPoller.ts';

const responseSchema = z.union([
  z.object({ jsonrpc: z.literal('2.0'), result: z.unknown(), id: z.union([z.string(), z.number(), z.null()]) }).refine((r) => 'result' in r, 'result missing'),
  z.object({
    jsonrpc: z.literal('2.0'),
    error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }),
    id: z.union([z.string(), z.number(), z.null()]),
  }),
]);

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/**
 * One JSON-RPC 2.0 call over HTTP POST, bounded by `timeoutMs`; never rejects: every way
 * it can go wrong is a typed failure (refused, timeout, HTTP status, a body that is not a
 * JSON-RPC answer, a JSON-RPC error, a result too large to record).
 */
export function createJsonRpcCaller(url: string, options: { maxResultBytes: number }) {
  let nextId = 1;
  return async (input: RpcCallInput): Promise<RpcCallResult> => {
    const started = performance.now();
    const took = (): number => Math.round(performance.now() - started);
    const id = nextId++;
    let text: string;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', method: input.method, ...(input.params !== undefined ? { params: input.params } : {}), id }),
        signal: AbortSignal.timeout(input.timeoutMs),
      });
      text = await res.text();
      if (!res.ok) return { ok: false, code: 'HTTP_ERROR', reason: `HTTP ${res.status}`, durationMs: took() };
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') return { ok: false, code: 'TIMEOUT', reason: `timeout after ${input.timeoutMs} ms`, durationMs: took() };
      const code = causeCode(err);
      if (code === 'ECONNREFUSED') return { ok: false, code: 'CONNECTION_REFUSED', reason: 'connection refused', durationMs: took() };
      return { ok: false, code: 'CONNECTION_FAILED', reason: code ?? (err as Error).message, durationMs: took() };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { ok: false, code: 'INVALID_RESPONSE', reason: `not JSON: ${JSON.stringify(text.slice(0, 60))}`, durationMs: took() };
    }
    const parsed = responseSchema.safeParse(body);
    if (!parsed.success) return { ok: false, code: 'INVALID_RESPONSE', reason: 'not a JSON-RPC 2.0 response', durationMs: took() };
    if ('error' in parsed.data) {
      return { ok: false, code: 'RPC_ERROR', reason: `JSON-RPC error ${parsed.data.error.code}: ${parsed.data.error.message}`, durationMs: took() };
    }
    if (parsed.data.id !== id) return { ok: false, code: 'INVALID_RESPONSE', reason: `answer to id ${String(parsed.data.id)}, not ${id}`, durationMs: took() };
    if (text.length > options.maxResultBytes) {
      return { ok: false, code: 'INVALID_RESPONSE', reason: `result of ${text.length} bytes over maxResultBytes ${options.maxResultBytes}`, durationMs: took() };
    }
    return { ok: true, data: parsed.data.result ?? null, durationMs: took() };
  };
}
