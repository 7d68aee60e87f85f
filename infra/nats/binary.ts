import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian and Ubuntu install the `nats-server` package. */
export const SYSTEM_NATS_SERVER = '/usr/sbin/nats-server';

export const INSTALL_STEPS = [
  'Install it with:',
  '  sudo apt-get update && sudo apt-get install -y nats-server',
  'or set NATS_SERVER_BIN to the path of a nats-server binary (2.9 or later),',
  'or set NATS_URL to use a NATS server that is already running.',
].join('\n');

export class NatsServerNotFoundError extends Error {
  readonly code = 'NATS_SERVER_NOT_FOUND';
  /** Every place that was looked at, in order. */
  readonly searched: string[];

  constructor(reason: string, searched: string[]) {
    super(`${reason}\n${INSTALL_STEPS}`);
    this.name = 'NatsServerNotFoundError';
    this.searched = searched;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nats-server binary to run: `NATS_SERVER_BIN` when set (and then only that one: a
 * wrong explicit path is an error, not a reason to run another binary), else the first
 * `nats-server` on PATH, else /usr/sbin/nats-server (often not on a user's PATH).
 */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.NATS_SERVER_BIN;
  if (explicit !== undefined && explicit !== '') {
    if (isExecutableFile(explicit)) return explicit;
    throw new NatsServerNotFoundError(
      `NATS_SERVER_BIN is set to ${explicit}, which is not an executable file.`,
      [explicit],
    );
  }
  const searched: string[] = [];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'nats-server');
    searched.push(candidate);
    if (isExecutableFile(candidate)) return candidate;
  }
  searched.push(SYSTEM_NATS_SERVER);
  if (isExecutableFile(SYSTEM_NATS_SERVER)) return SYSTEM_NATS_SERVER;
  throw new NatsServerNotFoundError(
    'nats-server was not found (not on PATH, not at /usr/sbin/nats-server).',
    searched,
  );
}
