import {
  createActor,
  type Actor,
  type AnyStateMachine,
  type EventFromLogic,
  type InputFrom,
  type InspectionEvent,
  type Observer,
  type SnapshotFrom,
  type StateValue,
} from 'xstate';
import type { ErrorEvent } from '../../machines/lib/errorEvent.ts';
import { printRecord, type TransitionRecord } from '../bus/schemas/transitionRecord.ts';
import type { Kind } from '../bus/subjects.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { newIncarnation } from './incarnation.ts';
import { statePath } from './statePath.ts';

export interface RecordSink {
  enqueue(record: TransitionRecord, onStored?: () => void): void;
}

type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** Inspection observer given to every actor hosted in this process (`lifeline up --inspect`). */
let processInspector: InspectObserver | undefined;

/** Sets (or clears, with undefined) the inspection observer of every actor hosted from now on. */
export function setProcessInspector(observer: InspectObserver | undefined): void {
  processInspector = observer;
}

function notify(observer: InspectObserver | undefined, event: InspectionEvent): void {
  if (typeof observer === 'function') observer(event);
  else observer?.next?.(event);
}

export interface HostOptions<M extends AnyStateMachine> {
  machine: M;
  kind: Kind;
  id: string;
  input?: InputFrom<M>;
  sink: RecordSink;
  /** The public part of the context that goes into every record. */
  summarize?: (snapshot: SnapshotFrom<M>) => Record<string, unknown>;
  /** The ErrorEvent the snapshot carries; attached to the record whenever it changes. */
  errorOf?: (snapshot: SnapshotFrom<M>) => ErrorEvent | undefined;
  /** Milliseconds since the epoch for the record's `at` (tests pass a simulated clock). */
  now?: () => number;
  /** Passed to createActor (SimulatedClock in tests). */
  clock?: Parameters<typeof createActor>[1] extends infer O ? (O extends { clock?: infer C } ? C : never) : never;
  /** Extra inspection observer, e.g. the Stately inspector. */
  inspect?: InspectObserver;
  logger?: Logger;
  incarnation?: string;
}

export interface HostedActor<M extends AnyStateMachine> {
  readonly actor: Actor<M>;
  readonly kind: Kind;
  readonly id: string;
  readonly incarnation: string;
  /** Sequence number of the last record produced. */
  seq(): number;
  /**
   * Sends an event; `onStored` runs when the last record that event produced is stored in
   * JetStream (at once if the event changed nothing).
   */
  send(event: EventFromLogic<M>, onStored?: () => void): void;
  stop(): void;
}

/**
 * Hosts one machine as an actor and turns every microstep that takes a transition into a
 * numbered transition record (so a state held for 0 ms is still recorded), handed in
 * order to the sink (the outbox). The first record (`from: null`) is the actor's start.
 * A microstep that changes neither the state path nor the public context summary (a
 * heartbeat tick, a pong resetting a timer) is not recorded: it changes nothing a reader
 * of the log could see.
 */
export function hostActor<M extends AnyStateMachine>(options: HostOptions<M>): HostedActor<M> {
  const log = options.logger ?? componentLogger('runtime', { kind: options.kind, id: options.id });
  const now = options.now ?? Date.now;
  const incarnation = options.incarnation ?? newIncarnation(now());
  const summarize = options.summarize ?? (() => ({}));
  let seq = 0;
  let lastPath: string | null = null;
  let lastError: ErrorEvent | undefined;
  /** While `send` runs with an `onStored`, records are collected to tag the last one. */
  let captured: TransitionRecord[] | null = null;

  let lastSummary = '';

  function emit(snapshot: SnapshotFrom<M>, eventType: string): void {
    const to = statePath((snapshot as { value: StateValue }).value);
    const context = summarize(snapshot);
    const summary = JSON.stringify(context);
    if (seq > 0 && to === lastPath && summary === lastSummary) return;
    lastSummary = summary;
    const error = options.errorOf?.(snapshot);
    const record: TransitionRecord = {
      v: 1,
      kind: options.kind,
      id: options.id,
      incarnation,
      seq: ++seq,
      at: new Date(now()).toISOString(),
      from: lastPath,
      to,
      event: eventType,
      context,
    };
    if (error && error !== lastError) record.error = error;
    printRecord(record, summary);
    lastError = error;
    lastPath = to;
    if (captured) captured.push(record);
    else options.sink.enqueue(record);
  }

  const extra = options.inspect;
  const global = processInspector;
  const inspect = (event: InspectionEvent): void => {
    notify(extra, event);
    notify(global, event);
    if (event.actorRef.sessionId !== event.rootId) return;
    if (event.type === '@xstate.microstep' && event._transitions.length > 0) {
      const snapshot = event.snapshot as SnapshotFrom<M>;
      if (seq === 0) emit(snapshot, 'xstate.init');
      else emit(snapshot, event.event.type);
    }
  };

  const actor = createActor(options.machine, {
    input: options.input,
    inspect,
    ...(options.clock ? { clock: options.clock } : {}),
  } as never) as Actor<M>;
  actor.subscribe({
    error: (err) => log.error({ err }, 'actor crashed: its machine has no handler for this error'),
  });
  actor.start();
  if (seq === 0) emit(actor.getSnapshot() as SnapshotFrom<M>, 'xstate.init');

  return {
    actor,
    kind: options.kind,
    id: options.id,
    incarnation,
    seq: () => seq,
    send(event, onStored) {
      if (!onStored) {
        actor.send(event);
        return;
      }
      const records: TransitionRecord[] = [];
      captured = records;
      try {
        actor.send(event);
      } finally {
        captured = null;
        records.forEach((r, i) => options.sink.enqueue(r, i === records.length - 1 ? onStored : undefined));
        if (records.length === 0) onStored();
      }
    },
    stop() {
      actor.stop();
    },
  };
}
