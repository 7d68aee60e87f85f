import { describe, expect, it } from 'vitest';
import { parseRunRequest, pickDeclared, RUN_HELP, runServiceHelp, RunUsageError, type RunRequest } from '../../services/cli/run.ts';
import { parseLifelineConfig } from '../../services/config/lifelineConfig.ts';

/** `lifeline run <service> [name…]`: what it accepts, and the errors that list what is available. */
const declared = {
  ...parseLifelineConfig({
    children: [{ name: 'flask', command: 'true', port: 5001 }],
    links: [{ name: 'radio' }, { name: 'radio-2', port: 4404 }],
    pollers: [{ name: 'backend', url: 'http://127.0.0.1:7072/rpc' }],
  }),
  path: '/srv/site/lifeline.config.json',
};

const usageError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RunUsageError);
    return (err as Error).message;
  }
  throw new Error('no error');
};

const declaredRequest = (positionals: string[], all = false): Extract<RunRequest, { kind: 'declared' }> => {
  const request = parseRunRequest(positionals, all);
  if (request.kind !== 'declared') throw new Error('not a declared service');
  return request;
};

describe('lifeline run: which service', () => {
  it('the core services, and telemetry as the projector', () => {
    for (const name of ['projector', 'hub', 'device-gateway']) {
      const request = parseRunRequest([name]);
      expect(request.kind === 'core' && request.service.name).toBe(name);
    }
    const telemetry = parseRunRequest(['telemetry']);
    expect(telemetry.kind === 'core' && telemetry.service.name).toBe('projector');
  });

  it('child, link and poller take names or --all', () => {
    expect(declaredRequest(['poller', 'backend'])).toMatchObject({ names: ['backend'], all: false });
    expect(declaredRequest(['link', 'radio', 'radio-2'])).toMatchObject({ names: ['radio', 'radio-2'] });
    expect(declaredRequest(['child'], true)).toMatchObject({ names: [], all: true });
  });

  it('wrong invocations say what is possible', () => {
    expect(usageError(() => parseRunRequest([]))).toMatch(/^name a service: projector, hub, device-gateway, telemetry, child <name>, link <name>, poller <name>$/);
    expect(usageError(() => parseRunRequest(['ingest']))).toMatch(/^unknown service 'ingest': one of projector, hub/);
    expect(usageError(() => parseRunRequest(['hub', 'x']))).toBe('hub takes no names (only child, link and poller do)');
    expect(usageError(() => parseRunRequest(['poller']))).toBe('name the poller to run (an entry of "pollers" in the configuration file), or --all');
    expect(usageError(() => parseRunRequest(['poller', 'backend'], true))).toBe('give names or --all, not both');
  });
});

describe('lifeline run: which entries of the configuration file', () => {
  it('picks the named entries, only in their section', () => {
    const picked = pickDeclared(declaredRequest(['link', 'radio-2']), declared);
    expect(picked.links.map((l) => l.name)).toEqual(['radio-2']);
    expect(picked.children).toEqual([]);
    expect(picked.pollers).toEqual([]);
    expect(pickDeclared(declaredRequest(['link'], true), declared).links.map((l) => l.name)).toEqual(['radio', 'radio-2']);
  });

  it('a name not declared is an error listing the names available', () => {
    expect(usageError(() => pickDeclared(declaredRequest(['poller', 'backnd']), declared))).toBe(
      'poller "backnd" not declared under "pollers" in /srv/site/lifeline.config.json; available: backend',
    );
    expect(usageError(() => pickDeclared(declaredRequest(['link', 'radio', 'x', 'y']), declared))).toBe(
      'link "x", "y" not declared under "links" in /srv/site/lifeline.config.json; available: radio, radio-2',
    );
    const noPollers = { ...declared, pollers: [] };
    expect(usageError(() => pickDeclared(declaredRequest(['poller', 'backend']), noPollers))).toMatch(/available|declares no pollers/);
    expect(usageError(() => pickDeclared(declaredRequest(['poller'], true), noPollers))).toBe('no pollers to run: it declares no pollers (/srv/site/lifeline.config.json)');
  });

  it('without a configuration file, says so and how to name one', () => {
    const none = { ...parseLifelineConfig({}), path: null };
    expect(usageError(() => pickDeclared(declaredRequest(['child', 'flask']), none))).toBe(
      'child "flask" not declared: no configuration file (lifeline.config.json is absent; name one with --config or LIFELINE_CONFIG)',
    );
  });
});

describe('lifeline run --help', () => {
  it('lists every service, and each has its own help', () => {
    for (const name of ['projector', 'hub', 'device-gateway', 'telemetry', 'child <name…>', 'link <name…>', 'poller <name…>']) expect(RUN_HELP).toContain(`  ${name}`);
    expect(runServiceHelp('poller')).toMatch(/^usage: lifeline run poller <name…> \| --all/);
    expect(runServiceHelp('telemetry')).toContain('runs the projector');
    expect(runServiceHelp('hub')).toMatch(/^usage: lifeline run hub /);
  });
});
