import { parentPort, workerData } from 'node:worker_threads';
import { startProjectorHere } from '../../cli/services/projectorService.ts';
import { componentLogger } from '../../log/logger.ts';
import { toProjectorThreadSchema, type FromProjectorThread, type ProjectorThreadData } from './threadMessages.ts';

/**
 * The projector in its own thread: started from `workerData`, it reports its role and
 * stats to the thread that started it (on every change, at most every STATUS_MS) and stops
 * when told to.
 */
const STATUS_MS = 100;

const port = parentPort;
if (!port) throw new Error('projectorThreadMain.ts runs as a worker thread (projectorService.ts starts it)');
const log = componentLogger('projector');
const post = (message: FromProjectorThread): void => port.postMessage(message);
const data = workerData as ProjectorThreadData;

try {
  const service = await startProjectorHere(data.endpoint, data.leaseTtlMs !== undefined ? { leaseTtlMs: data.leaseTtlMs } : {});
  const { projector } = service;
  let last = '';
  const report = (): void => {
    const status: FromProjectorThread = { type: 'status', role: projector.role(), stats: projector.stats() };
    const text = JSON.stringify(status);
    if (text === last) return;
    last = text;
    post(status);
  };
  report();
  post({ type: 'ready', holder: projector.holder });
  const timer = setInterval(report, STATUS_MS);
  port.on('message', (raw: unknown) => {
    const message = toProjectorThreadSchema.safeParse(raw);
    if (!message.success) return log.warn({ err: message.error.message }, 'projector thread: message ignored');
    clearInterval(timer);
    void service
      .stop()
      .then(() => {
        report();
        post({ type: 'stopped' });
        port.close();
      })
      .catch((err: Error) => post({ type: 'failed', message: `stop failed: ${err.message}` }));
  });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
  port.close();
}
