import { Gauge, register } from 'prom-client';

/** The hub's WebSocket counters (issue 5), served by /metrics and GET /api/hub/metrics. */
export interface HubCounters {
  /** Connections accepted since the start. */
  clientsTotal: number;
  /** Drops, handler failures. */
  errors: number;
  slowClientDrops: number;
  deadClients: number;
  /** Frames that did not parse, socket errors. */
  readErrors: number;
  writeErrors: number;
}

export const newHubCounters = (): HubCounters => ({ clientsTotal: 0, errors: 0, slowClientDrops: 0, deadClients: 0, readErrors: 0, writeErrors: 0 });

export interface HubMetricsSource {
  counters: HubCounters;
  clients(): number;
  /** Circuit state per RPC poller, as the hub last saw it. */
  circuits(): Record<string, string>;
}

export function hubMetricsJson(source: HubMetricsSource) {
  const c = source.counters;
  return {
    clients: source.clients(),
    clients_total: c.clientsTotal,
    errors: c.errors,
    slow_client_drops: c.slowClientDrops,
    dead_clients: c.deadClients,
    read_errors: c.readErrors,
    write_errors: c.writeErrors,
    circuits: source.circuits(),
  };
}

const CIRCUIT_VALUES: Record<string, number> = { closed: 0, halfOpen: 1, open: 2, stopped: 3 };
let current: HubMetricsSource | undefined;

/** Registers the Prometheus gauges once per process; they read the latest hub's counters. */
export function registerHubMetrics(source: HubMetricsSource): void {
  current = source;
  if (register.getSingleMetric('lifeline_hub_clients')) return;
  const gauge = (name: string, help: string, read: (s: HubMetricsSource) => number): void => {
    new Gauge({ name, help, collect() { if (current) this.set(read(current)); } });
  };
  gauge('lifeline_hub_clients', 'WebSocket clients connected now', (s) => s.clients());
  gauge('lifeline_hub_clients_total', 'WebSocket clients accepted since the start', (s) => s.counters.clientsTotal);
  gauge('lifeline_hub_errors_total', 'Client drops and handler failures', (s) => s.counters.errors);
  gauge('lifeline_hub_slow_client_drops_total', 'Clients dropped with SLOW_CLIENT (send queue full)', (s) => s.counters.slowClientDrops);
  gauge('lifeline_hub_dead_clients_total', 'Clients closed for unanswered pings', (s) => s.counters.deadClients);
  gauge('lifeline_hub_read_errors_total', 'Inbound frames that did not parse, socket errors', (s) => s.counters.readErrors);
  gauge('lifeline_hub_write_errors_total', 'Failed writes to clients', (s) => s.counters.writeErrors);
  new Gauge({
    name: 'lifeline_rpc_circuit_state',
    help: 'Circuit of each RPC poller as the hub sees it: 0 closed, 1 halfOpen, 2 open, 3 stopped',
    labelNames: ['poller'],
    collect() {
      this.reset();
      for (const [poller, state] of Object.entries(current?.circuits() ?? {})) this.set({ poller }, CIRCUIT_VALUES[state] ?? -1);
    },
  });
}
