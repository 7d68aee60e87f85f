import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../infra/device-sim/cli.ts';
import { parseCliArgs } from '../../infra/device-sim/cliArgs.ts';
import { sleep, startTestGateway, type TestGateway } from './testGateway.ts';

const gateways: TestGateway[] = [];
const runs: { abort: AbortController; done: Promise<number> }[] = [];

afterEach(async () => {
  for (const run of runs) run.abort.abort();
  await Promise.all(runs.splice(0).map((r) => r.done));
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return {
    stream,
    text: () => text,
    async waitFor(pattern: RegExp, timeoutMs = 3_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`output never matched ${pattern}:\n${text}`);
        await sleep(10);
      }
    },
  };
}

async function startCli(argv: string[]) {
  const g = await startTestGateway();
  gateways.push(g);
  const stdin = new PassThrough();
  const stdout = capture();
  const stderr = capture();
  const abort = new AbortController();
  const done = main(['--port', String(g.port), ...argv], {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    signal: abort.signal,
    handleSignals: false,
    env: {},
  });
  runs.push({ abort, done });
  return { g, stdin, stdout, stderr, abort, done };
}

describe('device-sim CLI arguments', () => {
  it('--help prints usage and exits 0', async () => {
    const out = capture();
    expect(await main(['--help'], { stdout: out.stream, handleSignals: false })).toBe(0);
    expect(out.text()).toContain('--devices <n>');
    expect(out.text()).toContain('crash <dev>');
  });

  it.each([
    [['--devices', 'abc'], /--devices must be a whole number \(got 'abc'\)/],
    [['--nodes', '0'], /--nodes must be at least 1/],
    [['--behavior', 'explode'], /--behavior must be one of normal, fail/],
    [['--port', '70000'], /--port must be at most 65535/],
    [['--what'], /Unknown option '--what'/],
    [['--chaos', '--reconnect-delay', '0'], /--chaos needs a reconnect delay above 0/],
  ])('%j is rejected with exit 2 and a clear message', async (argv, message) => {
    const err = capture();
    expect(await main(argv, { stderr: err.stream, handleSignals: false, env: {} })).toBe(2);
    expect(err.text()).toMatch(message);
    expect(err.text()).toMatch(/^device-sim: /);
    expect(err.text()).toContain('Run with --help for usage.');
  });

  it('takes the port from LIFELINE_DEVICE_PORT, and says so when it is bad', () => {
    expect(parseCliArgs([], { LIFELINE_DEVICE_PORT: '9000' })).toMatchObject({ kind: 'run', options: { port: 9000, host: '127.0.0.1', devices: 1, nodes: 1, prefix: 'dev' } });
    expect(parseCliArgs([], {})).toMatchObject({ kind: 'run', options: { port: 7071 } });
    expect(parseCliArgs(['--port', '9001'], { LIFELINE_DEVICE_PORT: '9000' })).toMatchObject({ options: { port: 9001 } });
    const bad = parseCliArgs([], { LIFELINE_DEVICE_PORT: 'nope' });
    expect(bad).toMatchObject({ kind: 'error', message: expect.stringContaining('LIFELINE_DEVICE_PORT') });
  });
});

describe('device-sim CLI run', () => {
  it('connects the fleet, obeys stdin actions, reconnects, and closes everything on abort', async () => {
    const { g, stdin, stdout, abort, done } = await startCli(['--devices', '3', '--nodes', '2', '--reconnect-delay', '100']);
    const [dev1, dev2, dev3] = await Promise.all(['dev1', 'dev2', 'dev3'].map((n) => g.waitForDevice(n)));
    await stdout.waitFor(/dev3\s+connected id=127\.0\.0\.1:dev3/);

    dev3!.command({ command: 'blink' });
    await stdout.waitFor(/dev3\s+command cmd-\d+ 'blink' .* → normal/);

    stdin.write('crash dev1\n');
    await dev1!.closed;
    expect(dev1!.error?.code).toBe('ECONNRESET');
    const dev1again = await g.waitForDevice('dev1', 2);
    await stdout.waitFor(/dev1\s+connected id=127\.0\.0\.1:dev1 \(connection #2\)/);

    stdin.write('close dev2\n');
    await dev2!.closed;
    expect(dev2!.ended).toBe(true);
    await sleep(250);
    expect(g.connections.filter((c) => c.name === 'dev2')).toHaveLength(1);

    stdin.write('garbage dev3\nlist\nfrobnicate\n');
    await dev3!.waitForLine((l) => l.startsWith('this is not json'));
    await stdout.waitFor(/2\/3 connected/);
    await stdout.waitFor(/dev2\s+closed \(held\)/);
    await stdout.waitFor(/unknown command 'frobnicate'/);

    abort.abort();
    expect(await done).toBe(0);
    await Promise.all([dev1again.closed, dev3!.closed]);
    expect(dev1again.ended && dev3!.ended).toBe(true);
    expect(stdout.text()).toContain('all devices closed');
  });

  it('quit on stdin stops the run', async () => {
    const { g, stdin, done } = await startCli([]);
    const dev1 = await g.waitForDevice('dev1');
    await sleep(20);
    stdin.write('quit\n');
    expect(await done).toBe(0);
    await dev1.closed;
    expect(dev1.ended).toBe(true);
  });

  it('--chaos disturbs devices and brings them back', async () => {
    const { g, stdout, abort, done } = await startCli([
      '--devices', '3', '--chaos', '--chaos-interval', '100', '--chaos-pause', '150', '--reconnect-delay', '50', '--seed', '7',
    ]);
    await stdout.waitFor(/chaos: (crash|silent|garbage|hang) dev\d/);
    const deadline = Date.now() + 5_000;
    while (g.connections.length < 6 && Date.now() < deadline) await sleep(20);
    expect(g.connections.length).toBeGreaterThanOrEqual(6);
    abort.abort();
    expect(await done).toBe(0);
    await Promise.all(g.connections.map((c) => c.closed));
  });
});
