import { startEsp32Emulator } from '../../../infra/esp32-emulator/index.ts';
import { startRpcBackend, type Fault } from '../../../infra/rpc-backend/index.ts';
import { componentLogger } from '../../log/logger.ts';
import type { RunningService } from '../services/runningService.ts';
import type { DemoPorts } from './demoConfig.ts';

/** Runs `steps` in a loop, one after the other, each for its duration; stop() ends the loop. */
export function loopScript(steps: Array<{ ms: number; run: () => unknown }>): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let i = 0;
  const next = (): void => {
    const step = steps[i++ % steps.length]!;
    void Promise.resolve()
      .then(step.run)
      .catch(() => {});
    timer = setTimeout(next, step.ms);
  };
  timer = setTimeout(next, 0);
  return { stop: () => clearTimeout(timer) };
}

/**
 * The demo's peers that the declared services connect to: the RPC backend (flapping:
 * healthy, down, HTTP 500, malformed, slow) and the ESP32 emulator (normal, then silent,
 * then a reboot), each a row of the `lifeline up` table.
 */
export async function startDemoBackends(ports: DemoPorts): Promise<RunningService[]> {
  const log = componentLogger('demo');
  const backend = await startRpcBackend({ port: ports.rpc });
  const faults: Fault[] = [{ mode: 'healthy' }, { mode: 'down' }, { mode: 'healthy' }, { mode: 'http500' }, { mode: 'malformed' }, { mode: 'slow', delayMs: 2_500 }];
  const durations = [8_000, 6_000, 6_000, 6_000, 4_000, 5_000];
  let rpcMode = 'healthy';
  const rpcScript = loopScript(
    faults.map((fault, i) => ({
      ms: durations[i]!,
      run: async () => {
        rpcMode = fault.mode;
        log.info({ fault }, 'demo: RPC backend fault');
        await backend.setFault(fault);
      },
    })),
  );
  const radio = await startEsp32Emulator({ port: ports.radio, nodes: 12, frameDelayMs: 20 });
  const radioScript = loopScript([
    { ms: 12_000, run: () => radio.setMode('normal') },
    { ms: 10_000, run: () => radio.goSilent() },
    { ms: 6_000, run: () => radio.kick() },
    { ms: 10_000, run: () => radio.reboot(4_000) },
  ]);
  return [
    {
      name: 'demo RPC backend',
      address: backend.url,
      state: () => rpcMode,
      stop: async () => {
        rpcScript.stop();
        await backend.close();
      },
    },
    {
      name: 'demo ESP32 emulator',
      address: `tcp://${radio.host}:${radio.port}`,
      state: () => radio.mode(),
      stop: async () => {
        radioScript.stop();
        await radio.close();
      },
    },
  ];
}
