import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle, type StartNatsServerOptions } from '../../infra/nats/index.ts';

/** Temp dirs and servers a test file created; `cleanup()` in afterAll stops and removes them. */
export function natsFixture() {
  const dirs: string[] = [];
  const servers: NatsServerHandle[] = [];
  return {
    async tempDir(prefix = 'lifeline-nats-'): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async start(opts: StartNatsServerOptions): Promise<NatsServerHandle> {
      const handle = await startNatsServer(opts);
      servers.push(handle);
      return handle;
    },
    async cleanup(): Promise<void> {
      await Promise.all(servers.map((s) => s.stop()));
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
