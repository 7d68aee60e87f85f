/** The shape of GET /api/machines (the hub writes it, the dashboard draws it). */
export interface StateNodeJson {
  id: string;
  /** Dotted path from the root (`ready.synced`; '' for the root), as actor states are written. */
  path: string;
  key: string;
  type: string;
  initial?: string;
  states: Record<string, StateNodeJson>;
  transitions: Array<{ event: string; targets: string[]; guard?: string; delayed?: boolean }>;
  invoke: Array<{ id: string; src: string }>;
}

export interface MachineJson {
  kind: string;
  id: string;
  root: StateNodeJson;
}
