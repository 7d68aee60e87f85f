import { parseJsonWith } from '../bus/schemas/parse.ts';
import { transitionRecordSchema } from '../bus/schemas/transitionRecord.ts';
import type { RuntimeConfig } from './config.ts';
import { formatRecord } from './formatRecord.ts';
import { connectAs, resolveNatsEndpoint } from './natsEndpoint.ts';

/** `lifeline watch [subject]`: one readable line per transition record (default `conn.>`). */
export async function runWatch(config: RuntimeConfig, subject: string, json: boolean): Promise<number> {
  const endpoint = await resolveNatsEndpoint(config);
  const bus = await connectAs(endpoint, 'watcher', 'lifeline-watch', 10_000);
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  process.stderr.write(`watching ${subject} on ${endpoint.url} (Ctrl-C stops)\n`);
  const sub = bus.nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return out(`subscription error: ${err.message}`);
      if (json) return out(msg.string());
      const parsed = parseJsonWith(transitionRecordSchema, 'transition record', msg.data);
      out(parsed.ok ? formatRecord(parsed.value) : `${msg.subject} ${msg.string().slice(0, 200)}`);
    },
  });
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      sub.unsubscribe();
      void bus.close().then(() => resolve(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
