import { Gauge, register } from 'prom-client';
import type { Outbox, OutboxStats } from './outbox.ts';

const outboxes = new Map<string, Outbox>();

/** Exposes an outbox's counters as `lifeline_outbox_<stat>{service}` gauges in /metrics. */
export function registerOutboxMetrics(service: string, outbox: Outbox): void {
  outboxes.set(service, outbox);
  const stats: Array<keyof OutboxStats> = ['queued', 'inFlight', 'published', 'dropped', 'gapRecords', 'retries'];
  for (const stat of stats) {
    const name = `lifeline_outbox_${stat.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    if (register.getSingleMetric(name)) continue;
    new Gauge({
      name,
      help: `Outbox ${stat} (records)`,
      labelNames: ['service'],
      collect() {
        for (const [svc, box] of outboxes) this.set({ service: svc }, Number(box.stats()[stat] ?? 0));
      },
    });
  }
}
