import { RequestOne } from '@nats-io/nats-core/internal';
import { errors } from '@nats-io/nats-core';

/**
 * nats.js 3.3.1 ends every request — each JetStream publish, each KV write — with
 * `RequestOne.cancel()`, which builds `new RequestError("cancelled")` (a stack capture,
 * through source maps under tsx) only to reject a promise that the reply has already
 * resolved, so the error is thrown away. The record-pipeline and failure benchmarks'
 * profiles put it at ~9 % of the projector's busy CPU. This replaces `cancel` with the
 * same steps rejecting with one shared error: a settled promise ignores it, and a request
 * cancelled before its reply still rejects with a RequestError "cancelled" (its stack is
 * just not the caller's). Applied once, at import; checked by test/bus/requestCancelPatch.test.ts
 * so an upgrade that changes the class fails loudly instead of silently.
 */
const CANCELLED = new errors.RequestError('cancelled');

interface CancellableRequest {
  timer?: { cancel(): void };
  mux: { cancel(request: unknown): void };
  deferred: { reject(err: unknown): void };
}

const proto = RequestOne.prototype as unknown as { cancel(this: CancellableRequest, err?: Error): void; lifelinePatched?: boolean };
if (!proto.lifelinePatched) {
  proto.cancel = function cancel(this: CancellableRequest, err?: Error): void {
    this.timer?.cancel();
    this.mux.cancel(this);
    this.deferred.reject(err ?? CANCELLED);
  };
  proto.lifelinePatched = true;
}

export const requestCancelPatched = true;
