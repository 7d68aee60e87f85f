import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { componentLogger } from '../../services/log/logger.ts';

/** One NATS user per service; nats.conf defines their permissions. */
export const SERVICE_USERS = [
  'admin',
  'gateway',
  'projector',
  'hub',
  'watcher',
  'telemetry',
  'child',
  'rpc',
  'link',
] as const;

export type ServiceUser = (typeof SERVICE_USERS)[number];

export interface UserCredentials {
  user: string;
  password: string;
}

export type Credentials = Record<ServiceUser, UserCredentials>;

export type PasswordEnvVar = `LIFELINE_PASS_${Uppercase<ServiceUser>}`;

export const CREDENTIALS_FILE = 'credentials.json';

/**
 * A letter, then hex. nats.conf reads `$LIFELINE_PASS_*` as a config value, and a value
 * starting with a digit is parsed as a number (`123`, `1k`) or fails (`1e5ab`).
 */
const PASSWORD = /^[a-z][0-9a-f]{32,}$/;

const userCredentialsSchema = z.object({
  user: z.string().min(1),
  password: z.string().regex(PASSWORD, 'must be a letter followed by at least 32 hex digits'),
});

/** Users missing from the file (added to SERVICE_USERS later) are generated and saved. */
const credentialsFileSchema = z.object(
  Object.fromEntries(SERVICE_USERS.map((u) => [u, userCredentialsSchema.optional()])) as Record<
    ServiceUser,
    z.ZodOptional<typeof userCredentialsSchema>
  >,
);

export class CredentialsFileError extends Error {
  readonly code = 'CREDENTIALS_INVALID';
  readonly path: string;

  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(
      `${path} is not a valid Lifeline credentials file: ${problem}. ` +
        'Fix it, or delete it to generate new passwords (every service must then restart).',
      options,
    );
    this.name = 'CredentialsFileError';
    this.path = path;
  }
}

export function generatePassword(): string {
  return `p${randomBytes(24).toString('hex')}`;
}

export function passwordEnvVar(user: ServiceUser): PasswordEnvVar {
  return `LIFELINE_PASS_${user.toUpperCase()}` as PasswordEnvVar;
}

/** The LIFELINE_PASS_* variables nats.conf reads, one per user. */
export function credentialsEnv(creds: Credentials): Record<PasswordEnvVar, string> {
  return Object.fromEntries(SERVICE_USERS.map((u) => [passwordEnvVar(u), creds[u].password])) as Record<
    PasswordEnvVar,
    string
  >;
}

async function readExisting(path: string): Promise<Partial<Credentials> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CredentialsFileError(path, 'not JSON', { cause: err });
  }
  const parsed = credentialsFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new CredentialsFileError(path, problems.join('; '), { cause: parsed.error });
  }
  for (const u of SERVICE_USERS) {
    const entry = parsed.data[u];
    if (entry !== undefined && entry.user !== u) {
      throw new CredentialsFileError(path, `${u}.user is "${entry.user}", expected "${u}"`);
    }
  }
  return parsed.data;
}

function serialize(creds: Credentials): string {
  return `${JSON.stringify(creds, null, 2)}\n`;
}

/**
 * Writes a new file without ever exposing a partly written one. With `replace` false the
 * write fails with EEXIST when another process created the file first.
 */
async function writeAtomically(path: string, content: string, replace: boolean): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    if (replace) await rename(tmp, path);
    else await link(tmp, path);
  } finally {
    if (!replace) await unlink(tmp).catch(() => undefined);
  }
}

/**
 * The NATS passwords of every service user: generated at the first start into
 * `<dataDir>/credentials.json` (mode 0600), read back at every later start.
 */
export async function loadOrCreateCredentials(dataDir: string): Promise<Credentials> {
  const log = componentLogger('nats-launcher');
  const path = join(dataDir, CREDENTIALS_FILE);
  await mkdir(dataDir, { recursive: true });
  const existing = await readExisting(path);
  const complete = Object.fromEntries(
    SERVICE_USERS.map((u) => [u, existing?.[u] ?? { user: u, password: generatePassword() }]),
  ) as Credentials;

  if (existing === undefined) {
    try {
      await writeAtomically(path, serialize(complete), false);
      log.info({ path }, 'generated NATS credentials');
      return complete;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process created it between our read and our write: use theirs.
      return loadOrCreateCredentials(dataDir);
    }
  }

  const missing = SERVICE_USERS.filter((u) => existing[u] === undefined);
  if (missing.length > 0) {
    await writeAtomically(path, serialize(complete), true);
    log.info({ path, users: missing }, 'added NATS credentials for new users');
  }
  const mode = (await stat(path)).mode & 0o777;
  if (mode !== 0o600) {
    await chmod(path, 0o600);
    log.warn({ path, mode: mode.toString(8) }, 'credentials file was readable by others; reset to 0600');
  }
  return complete;
}
