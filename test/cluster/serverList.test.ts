import { describe, expect, it } from 'vitest';
import { natsServerList, natsUrlSchema } from '../../services/bus/serverList.ts';
import { checkNatsUrl, resolveNatsEndpoint } from '../../services/cli/natsEndpoint.ts';
import { loadRuntimeConfig } from '../../services/cli/config.ts';

describe('NATS_URL: one server or a list of them', () => {
  it('accepts one URL, a comma-separated list (spaces allowed), bare host:port and tls/ws schemes', () => {
    for (const url of [
      'nats://127.0.0.1:4250',
      'nats://127.0.0.1:4250,nats://127.0.0.1:4260,nats://127.0.0.1:4270',
      'nats://10.0.0.1:4222, nats://10.0.0.2:4222',
      '127.0.0.1:4222',
      'tls://nats.example.org:4222,wss://nats.example.org:443',
      'nats://user:pass@nats-1:4222',
    ]) {
      expect(natsUrlSchema.safeParse(url).success, url).toBe(true);
    }
  });

  it('splits a list into the servers to connect to, and keeps a list as it is', () => {
    expect(natsServerList('nats://a:1, nats://b:2,nats://c:3')).toEqual(['nats://a:1', 'nats://b:2', 'nats://c:3']);
    expect(natsServerList('nats://a:1')).toEqual(['nats://a:1']);
    expect(natsServerList(['nats://a:1', 'nats://b:2'])).toEqual(['nats://a:1', 'nats://b:2']);
  });

  it('rejects what is not a NATS server URL with an error naming NATS_URL and the bad entry', () => {
    for (const url of ['http://127.0.0.1:4222', 'nats://127.0.0.1:4250,,nats://127.0.0.1:4260', 'nats://', 'nats://a:1/path', 'nats://a:notaport']) {
      expect(natsUrlSchema.safeParse(url).success, url).toBe(false);
    }
    expect(() => checkNatsUrl('nats://127.0.0.1:4250,http://127.0.0.1:4260')).toThrow(
      /NATS_URL: .*not a NATS server URL: "http:\/\/127\.0\.0\.1:4260"/,
    );
  });

  it('resolveNatsEndpoint takes a list from NATS_URL and refuses a bad one', async () => {
    const list = 'nats://127.0.0.1:4250,nats://127.0.0.1:4260';
    const dataDir = '/nonexistent/lifeline-test';
    expect((await resolveNatsEndpoint(loadRuntimeConfig({ dataDir }, { NATS_URL: list }))).url).toBe(list);
    await expect(resolveNatsEndpoint(loadRuntimeConfig({ dataDir }, { NATS_URL: 'nats://a:1,oops://b' }))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('NATS_URL'),
    });
  });
});
