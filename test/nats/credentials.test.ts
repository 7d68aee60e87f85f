import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CredentialsFileError,
  credentialsEnv,
  loadOrCreateCredentials,
  SERVICE_USERS,
} from '../../infra/nats/index.ts';
import { natsFixture } from './helpers.ts';

const fixture = natsFixture();
afterAll(() => fixture.cleanup());

describe('loadOrCreateCredentials', () => {
  it('generates a password per user once, in a 0600 file, and reuses it', async () => {
    const dataDir = join(await fixture.tempDir(), 'nested', 'data');
    const first = await loadOrCreateCredentials(dataDir);
    expect(Object.keys(first).sort()).toEqual([...SERVICE_USERS].sort());
    for (const user of SERVICE_USERS) {
      expect(first[user].user).toBe(user);
      expect(first[user].password).toMatch(/^[a-z][0-9a-f]{32,}$/);
    }
    expect(new Set(SERVICE_USERS.map((u) => first[u].password)).size).toBe(SERVICE_USERS.length);

    const file = join(dataDir, 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const before = await readFile(file, 'utf8');

    const second = await loadOrCreateCredentials(dataDir);
    expect(second).toEqual(first);
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('fills in a user missing from an older file and keeps the others', async () => {
    const dataDir = await fixture.tempDir();
    const first = await loadOrCreateCredentials(dataDir);
    const { link: _dropped, ...older } = first;
    await writeFile(join(dataDir, 'credentials.json'), JSON.stringify(older), { mode: 0o600 });
    const again = await loadOrCreateCredentials(dataDir);
    expect(again.admin).toEqual(first.admin);
    expect(again.link.password).not.toBe(first.link.password);
    expect(await loadOrCreateCredentials(dataDir)).toEqual(again);
  });

  it.each([
    ['not JSON', '{"admin": '],
    ['a wrong type', '{"admin": {"user": "admin", "password": 42}}'],
    ['a password nats.conf would read as a number', '{"admin": {"user": "admin", "password": "12345"}}'],
    ['a user name that does not match', `{"admin": {"user": "root", "password": "p${'a'.repeat(40)}"}}`],
  ])('rejects a corrupt file (%s) with a clear error', async (_what, content) => {
    const dataDir = await fixture.tempDir();
    await writeFile(join(dataDir, 'credentials.json'), content);
    const error = await loadOrCreateCredentials(dataDir).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CredentialsFileError);
    expect((error as CredentialsFileError).code).toBe('CREDENTIALS_INVALID');
    expect((error as Error).message).toContain(join(dataDir, 'credentials.json'));
  });

  it('credentialsEnv names one LIFELINE_PASS_* variable per user', async () => {
    const creds = await loadOrCreateCredentials(await fixture.tempDir());
    const env = credentialsEnv(creds);
    expect(Object.keys(env).sort()).toEqual(
      [
        'LIFELINE_PASS_ADMIN',
        'LIFELINE_PASS_CHILD',
        'LIFELINE_PASS_GATEWAY',
        'LIFELINE_PASS_HUB',
        'LIFELINE_PASS_LINK',
        'LIFELINE_PASS_PROJECTOR',
        'LIFELINE_PASS_RPC',
        'LIFELINE_PASS_TELEMETRY',
        'LIFELINE_PASS_WATCHER',
      ].sort(),
    );
    expect(env.LIFELINE_PASS_HUB).toBe(creds.hub.password);
  });
});
