import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHILD_TIMING } from '../../machines/childProcess.ts';
import { formatIssues } from '../../services/bus/schemas/parse.ts';
import { childSpecSchema } from '../../services/child-supervisor/childSpec.ts';
import { resolveChild, timingOf } from '../../services/child-supervisor/resolveChild.ts';
import { loadLifelineConfig } from '../../services/config/lifelineConfig.ts';

const problems = (spec: unknown): string => {
  const r = childSpecSchema.safeParse(spec);
  return r.success ? '' : formatIssues(r.error);
};

describe('child spec (lifeline.config.json `children`)', () => {
  it('fills every option with its documented default, the same as the machine’s', () => {
    const spec = childSpecSchema.parse({ name: 'flask', script: 'app.py', port: 5001 });
    expect(spec).toMatchObject({
      interpreter: 'auto',
      args: [],
      env: {},
      requires: [],
      host: '127.0.0.1',
      healthPath: '/health',
      autoRestart: true,
      stderrLines: 50,
    });
    expect(timingOf(spec)).toEqual(DEFAULT_CHILD_TIMING);
  });

  it('says which field is wrong', () => {
    expect(problems({ name: 'x' })).toMatch(/^script: say what to run/);
    expect(problems({ name: 'x', script: 'a.py', command: 'b', port: 1 })).toMatch(/^command: give either "script"/);
    expect(problems({ name: 'x', script: 'a.py' })).toMatch(/^port: give "port"/);
    expect(problems({ name: 'x', command: 'nats-server', port: 1, requires: ['flask'] })).toMatch(/^requires:/);
    expect(problems({ name: 'x', externalUrl: 'http://h:1', script: 'a.py' })).toMatch(/^externalUrl:/);
    expect(problems({ name: 'x', externalUrl: 'ftp://h' })).toMatch(/^externalUrl:/);
    expect(problems({ name: 'has space', script: 'a.py', port: 1 })).toMatch(/^name:/);
    expect(problems({ name: 'x', script: 'a.py', port: 70_000 })).toMatch(/^port:/);
    expect(problems({ name: 'x', script: 'a.py', port: 1, restartDelay: 5_000, restartMaxDelay: 1_000 })).toMatch(/^restartMaxDelay:/);
    expect(problems({ name: 'x', script: 'a.py', port: 1, requires: ['flask-cors'] })).toMatch(/^requires\.0: a Python module name/);
    expect(problems({ name: 'x', script: 'a.py', port: 1, restartDelay: '2s' })).toMatch(/^restartDelay:/);
    expect(problems({ name: 'x', script: 'a.py', port: 1, typo: true })).toMatch(/typo/);
  });

  it('resolves paths against the configuration file’s folder and gives the child HOST and PORT', () => {
    const child = resolveChild(childSpecSchema.parse({ name: 'flask', script: 'flask-app/app.py', host: '0.0.0.0', port: 5001, args: ['--x'], env: { A: '1' } }), '/srv/site');
    expect(child.script).toBe('/srv/site/flask-app/app.py');
    expect(child.cwd).toBe('/srv/site/flask-app');
    expect(child.env).toEqual({ A: '1', HOST: '0.0.0.0', PORT: '5001' });
    expect(child.description).toMatchObject({
      command: 'python3',
      args: ['/srv/site/flask-app/app.py', '--x'],
      python: true,
      url: 'http://127.0.0.1:5001',
      healthUrl: 'http://127.0.0.1:5001/health',
      external: false,
    });
  });

  it('any command works too (a non-Python child such as nats-server), health checked where it says', () => {
    const child = resolveChild(
      childSpecSchema.parse({ name: 'nats', command: 'nats-server', args: ['-p', '4333', '-m', '8333'], port: 4333, healthUrl: 'http://127.0.0.1:8333/healthz' }),
      '/srv',
    );
    expect(child.description).toMatchObject({ command: 'nats-server', args: ['-p', '4333', '-m', '8333'], python: false, script: null, healthUrl: 'http://127.0.0.1:8333/healthz', cwd: '/srv' });
  });

  it('an external child runs nothing and is reached at its URL', () => {
    const child = resolveChild(childSpecSchema.parse({ name: 'api', externalUrl: 'http://10.0.0.7:8000/' }), '/srv');
    expect(child.description).toMatchObject({ external: true, url: 'http://10.0.0.7:8000', healthUrl: 'http://10.0.0.7:8000/health' });
  });

  it('the demo configuration declares the Flask app as `flask` on port 5001', () => {
    const config = loadLifelineConfig(fileURLToPath(new URL('../../infra/demo.config.json', import.meta.url)));
    const flask = config.children.find((c) => c.name === 'flask')!;
    expect(flask.port).toBe(5001);
    const resolved = resolveChild(flask, fileURLToPath(new URL('../../infra/', import.meta.url)));
    expect(resolved.script).toBe(fileURLToPath(new URL('../../infra/flask-app/app.py', import.meta.url)));
  });
});
