/**
 * The ErrorEvent of DESIGN.md: every failure a machine reports carries one.
 * Pure data, no I/O; services/bus/schemas validates the same shape at boundaries.
 */
export type Severity = 'warning' | 'error' | 'critical';

export interface ErrorEvent {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  component: string;
  severity: Severity;
  timestamp: string;
  retryable: boolean;
}

export interface ErrorEventInit {
  code: string;
  message: string;
  component: string;
  severity?: Severity;
  retryable?: boolean;
  details?: Record<string, unknown>;
  /** Milliseconds since the epoch; machines pass the time their clock gives. */
  at: number;
}

export function createErrorEvent(init: ErrorEventInit): ErrorEvent {
  const event: ErrorEvent = {
    code: init.code,
    message: init.message,
    component: init.component,
    severity: init.severity ?? 'error',
    timestamp: new Date(init.at).toISOString(),
    retryable: init.retryable ?? false,
  };
  if (init.details !== undefined) event.details = init.details;
  return event;
}
