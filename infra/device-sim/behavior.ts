/** How a simulated device answers one command. */
export const SIM_BEHAVIOR_NAMES = [
  'normal', // ack at once, result ok:true after resultDelayMs
  'fail', // ack at once, result ok:false after resultDelayMs
  'hang', // never acks
  'no-result', // acks, never sends a result
  'crash-on-command', // TCP RST as soon as a command arrives
  'garbage-on-command', // answers with a line that is not JSON
  'unknown-on-command', // answers with valid JSON of an unknown message type
  'oversized-on-command', // answers with a line longer than 64 KiB
] as const;

export type SimBehaviorName = (typeof SIM_BEHAVIOR_NAMES)[number];

/** One behavior for the whole device, with overrides for some node instances. */
export interface SimBehaviorByInstance {
  /** For every instance not listed in `byInstance`; defaults to `'normal'`. */
  default?: SimBehaviorName;
  /** Instance number (1..n) → behavior. */
  byInstance?: Readonly<Record<number, SimBehaviorName>>;
}

export type SimBehavior = SimBehaviorName | SimBehaviorByInstance;

export function isSimBehaviorName(value: string): value is SimBehaviorName {
  return (SIM_BEHAVIOR_NAMES as readonly string[]).includes(value);
}

/** The behavior that applies to a command addressed to `instance`. */
export function behaviorForInstance(behavior: SimBehavior, instance: number): SimBehaviorName {
  if (typeof behavior === 'string') return behavior;
  return behavior.byInstance?.[instance] ?? behavior.default ?? 'normal';
}

/** Human-readable form, for status lines: `normal`, `normal (2: crash-on-command)`. */
export function describeBehavior(behavior: SimBehavior): string {
  if (typeof behavior === 'string') return behavior;
  const overrides = Object.entries(behavior.byInstance ?? {}).map(([k, v]) => `${k}: ${v}`);
  const base = behavior.default ?? 'normal';
  return overrides.length === 0 ? base : `${base} (${overrides.join(', ')})`;
}
