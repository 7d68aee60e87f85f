import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

const level = process.env.LIFELINE_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');

function createRootLogger(): Logger {
  const pretty = process.stdout.isTTY && !process.env.LIFELINE_LOG_JSON;
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { pid: process.pid } });
}

let root: Logger | undefined;

/** The process-wide pino logger; created lazily so tests can set LIFELINE_LOG_LEVEL first. */
export function rootLogger(): Logger {
  root ??= createRootLogger();
  return root;
}

/** One child logger per component, e.g. `componentLogger('device-gateway')`. */
export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ component, ...bindings });
}
