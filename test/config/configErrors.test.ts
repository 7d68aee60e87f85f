import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadRuntimeConfig } from '../../services/cli/config.ts';
import { ConfigFileError, loadLifelineConfig, parseLifelineConfig } from '../../services/config/lifelineConfig.ts';

/** A wrong option is a clear error naming the field as it is written in the file (or the env var / flag). */
const dir = mkdtempSync(join(tmpdir(), 'lifeline-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const errorOf = (raw: unknown): string => {
  try {
    parseLifelineConfig(raw, 'site.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    expect((err as ConfigFileError).code).toBe('INVALID_CONFIG');
    return (err as Error).message;
  }
  throw new Error('no error');
};

const poller = { name: 'backend', url: 'http://127.0.0.1:7072/rpc' };

describe('configuration file errors', () => {
  it('names the field with its index: pollers[0].intervalMs', () => {
    expect(errorOf({ pollers: [{ ...poller, intervalMs: 0 }] })).toBe('site.json: pollers[0].intervalMs: expected a number > 0');
    expect(errorOf({ pollers: [poller, { ...poller, name: 'b2', intervalMs: 'fast' }] })).toBe('site.json: pollers[1].intervalMs: expected a number, got string');
    expect(errorOf({ links: [{ name: 'radio', port: 70_000 }] })).toBe('site.json: links[0].port: expected a number ≤ 65535');
    expect(errorOf({ children: [{ name: 'c', command: 'x', port: 1, restartJitter: 2 }] })).toBe('site.json: children[0].restartJitter: expected a number ≤ 1');
    expect(errorOf({ links: [{ name: 'radio', maxAttempts: 1.5 }] })).toBe('site.json: links[0].maxAttempts: expected an integer');
    expect(errorOf({ pollers: [{ ...poller, url: 'ftp://x' }] })).toBe('site.json: pollers[0].url: expected an http or https URL');
    expect(errorOf({ pollers: [{ name: 'backend' }] })).toBe('site.json: pollers[0].url: required (a string)');
    expect(errorOf({ children: {} })).toBe('site.json: children: expected an array, got object');
    expect(errorOf([])).toBe('site.json: (top level): expected an object, got array');
  });

  it('rejects unknown keys (strict), naming the key and the nearest known one', () => {
    expect(errorOf({ poller: [] })).toBe('site.json: poller: unknown option; did you mean pollers?');
    expect(errorOf({ extra: true })).toBe('site.json: extra: unknown option (options: $schema, children, links, pollers)');
    expect(errorOf({ links: [{ name: 'radio', silentTimeout: 5_000 }] })).toBe('site.json: links[0].silentTimeout: unknown option; did you mean silentTimeoutMs?');
    expect(errorOf({ pollers: [{ ...poller, IntervalMs: 1_000 }] })).toBe('site.json: pollers[0].IntervalMs: unknown option; did you mean intervalMs?');
    expect(errorOf({ children: [{ name: 'c', command: 'x', port: 1, restartdelay: 5 }] })).toBe(
      'site.json: children[0].restartdelay: unknown option; did you mean restartDelay?',
    );
  });

  it('cross-field rules and duplicate names name the field too', () => {
    expect(errorOf({ children: [{ name: 'c', script: 'app.py' }] })).toBe('site.json: children[0].port: give "port" (or a "healthUrl") so the child can be health checked');
    expect(errorOf({ pollers: [{ ...poller, slowCallMs: 5_000, callTimeoutMs: 1_000 }] })).toBe('site.json: pollers[0].slowCallMs: slowCallMs must not exceed callTimeoutMs');
    expect(errorOf({ links: [{ name: 'radio' }, { name: 'r2' }, { name: 'radio' }] })).toBe('site.json: links[2].name: "radio" is already the name of links[0]');
  });

  it('lists every issue, one a line', () => {
    const message = errorOf({ pollers: [{ ...poller, intervalMs: -1, windowMS: 5 }], extra: 1 });
    expect(message.split('\n')).toEqual([
      'site.json:',
      '  pollers[0].intervalMs: expected a number > 0',
      '  pollers[0].windowMS: unknown option; did you mean windowMs?',
      '  extra: unknown option (options: $schema, children, links, pollers)',
    ]);
  });

  it('fills every default', () => {
    const config = parseLifelineConfig({ pollers: [poller] });
    expect(config.children).toEqual([]);
    expect(config.pollers[0]!.intervalMs).toBe(5_000);
    expect(config.pollers[0]!.methods).toHaveLength(4);
  });

  it('the file: the default may be absent, a named one must exist, and must be JSON', () => {
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      expect(loadLifelineConfig()).toEqual({ children: [], links: [], pollers: [], path: null });
    } finally {
      process.chdir(cwd);
    }
    expect(() => loadLifelineConfig(join(dir, 'missing.json'))).toThrow(/configuration file not found: .*missing\.json/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "pollers": [ }');
    expect(() => loadLifelineConfig(bad)).toThrow(/bad\.json is not valid JSON/);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ pollers: [{ ...poller, intervalMs: 0 }] }));
    expect(() => loadLifelineConfig(wrong)).toThrow(`${wrong}: pollers[0].intervalMs: expected a number > 0`);
  });
});

describe('env var and flag errors', () => {
  const errorOfRuntime = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string => {
    try {
      loadRuntimeConfig(flags, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('no error');
  };

  it('names the env var, or the flag when the flag gave the value', () => {
    expect(errorOfRuntime({}, { LIFELINE_HTTP_PORT: '99999' })).toBe('invalid configuration: LIFELINE_HTTP_PORT: expected a number ≤ 65535');
    expect(errorOfRuntime({ httpPort: 'abc' }, {})).toBe('invalid configuration: --http-port: expected a number');
    expect(errorOfRuntime({}, { LIFELINE_DEVICE_ACK_TIMEOUT_MS: '0' })).toBe('invalid configuration: LIFELINE_DEVICE_ACK_TIMEOUT_MS: expected a number > 0');
    expect(errorOfRuntime({ gatewayName: 'a b' }, {})).toBe('invalid configuration: --gateway-name: letters, digits, - and _ only');
  });

  it('flags win over env; empty env is unset; defaults otherwise', () => {
    const config = loadRuntimeConfig({ httpPort: '8081' }, { LIFELINE_HTTP_PORT: '8080', LIFELINE_DEVICE_PORT: '', LIFELINE_HTTP_HOST: '0.0.0.0' });
    expect(config.httpPort).toBe(8081);
    expect(config.devicePort).toBe(7071);
    expect(config.httpHost).toBe('0.0.0.0');
    expect(config.deviceAckTimeoutMs).toBe(5_000);
  });
});
