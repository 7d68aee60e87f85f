/** Keys of the raw-ceiling figures (rawCeiling.ts) that other benchmarks' figures are set against. */
export const CEILING = {
  burstP50: 'raw.burst.p50',
  burstP99: 'raw.burst.p99',
  singleP50: 'raw.single.p50',
  singleP99: 'raw.single.p99',
  fanoutP50: 'raw.fanout.p50',
  fanoutP99: 'raw.fanout.p99',
  tcpKbPerConnection: 'raw.tcp.kbPerConnection',
  flaskReadyMs: 'raw.flask.readyMs',
  /** Measured inside the pipeline benchmark, alternating with Lifeline. */
  pipelineRate: 'raw.pipeline.rate',
} as const;
