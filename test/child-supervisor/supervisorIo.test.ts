import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/nats/index.ts';
import { probeHealth } from '../../services/child-supervisor/healthProbe.ts';
import { createLineRing } from '../../services/child-supervisor/lineRing.ts';
import { checkPortFree } from '../../services/child-supervisor/portCheck.ts';
import { checkPythonImports } from '../../services/child-supervisor/pythonImports.ts';

describe('stderr ring', () => {
  it('keeps the last N lines across chunk boundaries, CRLF and an unfinished last line', () => {
    const ring = createLineRing(3);
    expect(ring.push('a\nb')).toEqual(['a']);
    expect(ring.push('c\r\nd\n\ne\n')).toEqual(['bc', 'd', 'e']);
    ring.push('Traceback (most');
    expect(ring.lines()).toEqual(['d', 'e', 'Traceback (most']);
  });
});

describe('health probe and port check (real sockets)', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.statusCode = req.url === '/health' ? 200 : 500;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('names the reason of every outcome', async () => {
    expect(await probeHealth(`${base}/health`, 1_000)).toMatchObject({ ok: true, status: 200, reason: 'HTTP 200' });
    expect(await probeHealth(`${base}/boom`, 1_000)).toMatchObject({ ok: false, status: 500, reason: 'HTTP 500' });
    expect(await probeHealth(`${base}/slow`, 200)).toMatchObject({ ok: false, reason: 'timeout after 200 ms' });
    expect(await probeHealth(`http://127.0.0.1:${await freePort()}/health`, 1_000)).toMatchObject({ ok: false, reason: 'connection refused' });
  });

  it('a port with a listener is not free; a free one is', async () => {
    const port = (server.address() as AddressInfo).port;
    expect(await checkPortFree('127.0.0.1', port)).toMatchObject({ free: false, errno: 'EADDRINUSE' });
    expect(await checkPortFree('127.0.0.1', await freePort())).toEqual({ free: true });
  });
});

describe('python import check', () => {
  it('passes, or names the module that is missing', async () => {
    expect(await checkPythonImports('/usr/bin/python3', ['json', 'os'])).toEqual({ ok: true });
    expect(await checkPythonImports('/usr/bin/python3', ['json', 'lifeline_missing_mod'])).toMatchObject({ ok: false, module: 'lifeline_missing_mod' });
  });
});
