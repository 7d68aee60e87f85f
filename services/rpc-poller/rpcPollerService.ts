import { fromPromise, type SnapshotFrom } from 'xstate';
import { rpcPollerMachine, summarizeRpcPoller, type CircuitState, type RpcCallInput, type RpcCallResult } from '../../machines/rpcPoller.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { hostActor, type HostedActor, type RecordSink } from '../runtime/host.ts';
import { statePath } from '../runtime/statePath.ts';
import { createJsonRpcCaller } from './jsonRpcClient.ts';
import { polledMethodsOf, pollerTimingOf, type PollerSpec } from './pollerSpec.ts';

export type PollerActor = HostedActor<typeof rpcPollerMachine>;
type PollerSnapshot = SnapshotFrom<typeof rpcPollerMachine>;

const STOP_RECORD_WAIT_MS = 5_000;

export interface RpcPoller {
  readonly hosted: PollerActor;
  /** Full dotted state path, e.g. `open.waiting`. */
  state(): string;
  circuit(): CircuitState;
  stop(): Promise<void>;
}

export const circuitOf = (snapshot: PollerSnapshot): CircuitState => String(statePath(snapshot.value)).split('.')[0] as CircuitState;

/** Starts one poller (kind `rpc`, id = its name) on real HTTP; its records go to `sink`. */
export function startRpcPoller(options: { spec: PollerSpec; sink: RecordSink; logger?: Logger }): RpcPoller {
  const { spec } = options;
  const log = options.logger ?? componentLogger('rpc-poller', { poller: spec.name });
  const call = createJsonRpcCaller(spec.url, { maxResultBytes: spec.maxResultBytes });
  const machine = rpcPollerMachine.provide({
    actors: { callMethod: fromPromise<RpcCallResult, RpcCallInput>(({ input }) => call(input)) },
  });
  const hosted: PollerActor = hostActor({
    machine,
    kind: 'rpc',
    id: spec.name,
    input: {
      poller: spec.name,
      url: spec.url,
      methods: polledMethodsOf(spec),
      ...(spec.healthMethod ? { healthMethod: spec.healthMethod } : {}),
      timing: pollerTimingOf(spec),
    },
    sink: options.sink,
    summarize: (s: PollerSnapshot) => summarizeRpcPoller(s.context, circuitOf(s)),
    errorOf: (s: PollerSnapshot) => s.context.error ?? undefined,
    logger: log,
  });
  let lastCircuit: CircuitState | '' = '';
  let lastFailures = 0;
  hosted.actor.subscribe((s) => {
    const circuit = circuitOf(s);
    const { lastFailure, failures, error } = s.context;
    if (failures > lastFailures && lastFailure) log.warn({ code: lastFailure.code, ...lastFailure.details }, lastFailure.message);
    lastFailures = failures;
    if (circuit === lastCircuit) return;
    if (circuit === 'open') log.error({ code: error?.code }, error?.message ?? 'circuit open');
    else if (circuit === 'closed' && lastCircuit) log.info({ code: 'RPC_RECOVERED' }, `${spec.name}: circuit closed, backend recovered`);
    else log.info({ from: lastCircuit || null, to: circuit }, `circuit ${circuit}`);
    lastCircuit = circuit;
  });
  log.info({ url: spec.url, methods: polledMethodsOf(spec).map((m) => m.method) }, 'RPC poller started');
  return {
    hosted,
    state: () => statePath(hosted.actor.getSnapshot().value),
    circuit: () => circuitOf(hosted.actor.getSnapshot()),
    stop: () =>
      new Promise<void>((resolve) => {
        if (hosted.actor.getSnapshot().status !== 'active') return resolve();
        setTimeout(resolve, STOP_RECORD_WAIT_MS).unref();
        hosted.send({ type: 'poller.stop' }, () => {
          hosted.stop();
          resolve();
        });
      }),
  };
}
