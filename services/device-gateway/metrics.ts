import { Counter, Gauge, register } from 'prom-client';

function counter(name: string, help: string, labelNames: string[]): Counter<string> {
  return (register.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames });
}

function gauge(name: string, help: string): Gauge<string> {
  return (register.getSingleMetric(name) as Gauge<string> | undefined) ?? new Gauge({ name, help });
}

/** Device gateway metrics in the process's default Prometheus registry (served by the hub). */
export function gatewayMetrics() {
  return {
    connected: gauge('lifeline_devices_connected', 'Devices connected to this gateway process'),
    failures: counter('lifeline_device_disconnects_total', 'Device connections ended, by error code', ['code']),
    handshakeFailures: counter('lifeline_device_handshake_failures_total', 'Connections that never became devices, by code', ['code']),
  };
}
