import { chmod, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findNatsServerBinary, NatsServerNotFoundError, SYSTEM_NATS_SERVER } from '../../infra/nats/index.ts';
import { natsFixture } from './helpers.ts';

const fixture = natsFixture();
afterAll(() => fixture.cleanup());

describe('findNatsServerBinary', () => {
  it('throws NATS_SERVER_NOT_FOUND with the install steps when NATS_SERVER_BIN points nowhere and PATH is empty', async () => {
    const nowhere = join(await fixture.tempDir(), 'no-such-nats-server');
    let error: unknown;
    try {
      findNatsServerBinary({ NATS_SERVER_BIN: nowhere, PATH: '' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NatsServerNotFoundError);
    const notFound = error as NatsServerNotFoundError;
    expect(notFound.code).toBe('NATS_SERVER_NOT_FOUND');
    expect(notFound.message).toContain(nowhere);
    expect(notFound.message).toContain('sudo apt-get update && sudo apt-get install -y nats-server');
    expect(notFound.message).toContain('NATS_SERVER_BIN');
  });

  it('rejects a NATS_SERVER_BIN that is not executable', async () => {
    const file = join(await fixture.tempDir(), 'nats-server');
    await writeFile(file, 'not a program');
    await chmod(file, 0o644);
    expect(() => findNatsServerBinary({ NATS_SERVER_BIN: file, PATH: '' })).toThrow(NatsServerNotFoundError);
  });

  it('prefers NATS_SERVER_BIN, then PATH, then /usr/sbin/nats-server', async () => {
    const dir = await fixture.tempDir();
    const onPath = join(dir, 'nats-server');
    await symlink(SYSTEM_NATS_SERVER, onPath);
    const explicit = join(await fixture.tempDir(), 'my-nats');
    await symlink(SYSTEM_NATS_SERVER, explicit);

    expect(findNatsServerBinary({ NATS_SERVER_BIN: explicit, PATH: dir })).toBe(explicit);
    expect(findNatsServerBinary({ PATH: `/nonexistent:${dir}` })).toBe(onPath);
    expect(findNatsServerBinary({ PATH: '' })).toBe(SYSTEM_NATS_SERVER);
  });
});
