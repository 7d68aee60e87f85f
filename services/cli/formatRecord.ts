import type { TransitionRecord } from '../bus/schemas/transitionRecord.ts';

function clock(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `12:01:03.120 device 127.0.0.1:dev1 busy → failed SOCKET_RESET` */
export function formatRecord(record: TransitionRecord): string {
  const from = record.from ?? '∅';
  const error = record.error ? ` ${record.error.code}` : '';
  const event = record.error ? '' : `  (${record.event})`;
  return `${clock(record.at)} ${record.kind} ${record.id} ${from} → ${record.to}${error}${event}`;
}
