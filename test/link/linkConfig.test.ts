import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LINK_TIMING } from '../../machines/esp32Link.ts';
import type { TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { ConfigFileError, loadLifelineConfig } from '../../services/config/lifelineConfig.ts';
import { linkSpecSchema, linkTimingOf } from '../../services/esp32-link/linkSpec.ts';
import { projectMessage } from '../../services/projector/projectMessage.ts';
import { meshNodeKey, projectLinkRecord } from '../../services/projector/reducers/linkRecord.ts';

describe('links in lifeline.config.json', () => {
  it('a link needs only a name; every other option has the documented default', () => {
    const spec = linkSpecSchema.parse({ name: 'radio' });
    expect(spec).toMatchObject({ name: 'radio', host: '127.0.0.1', port: 4403, keySyncChunkSize: 50, keySyncPauseMs: 0, tcpKeepAliveMs: 10_000 });
    expect(linkTimingOf(spec)).toEqual(DEFAULT_LINK_TIMING);
    expect(DEFAULT_LINK_TIMING).toMatchObject({ silentTimeoutMs: 120_000, cleanupDelayMs: 15_000, maxAttempts: 3, keySyncDelayMs: 0 });
  });

  it('the demo configuration declares the link `radio` to 127.0.0.1:4403, where the emulator listens (short demo timings)', () => {
    const config = loadLifelineConfig(fileURLToPath(new URL('../../infra/demo.config.json', import.meta.url)));
    expect(config.links).toEqual([
      linkSpecSchema.parse({ name: 'radio', host: '127.0.0.1', port: 4403, heartbeatIntervalMs: 2000, silentTimeoutMs: 6000, cleanupDelayMs: 3000, backoffMaxMs: 4000, slowRetryIntervalMs: 8000 }),
    ]);
  });

  it('loads links from a configuration file and names the field of a wrong option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-link-config-'));
    try {
      const file = join(dir, 'lifeline.config.json');
      writeFileSync(file, JSON.stringify({ links: [{ name: 'radio', host: '127.0.0.1', port: 4403 }] }));
      expect(loadLifelineConfig(file).links).toEqual([linkSpecSchema.parse({ name: 'radio' })]);

      writeFileSync(file, JSON.stringify({ links: [{ name: 'radio', silentTimout: 5 }] }));
      expect(() => loadLifelineConfig(file)).toThrow(ConfigFileError);
      expect(() => loadLifelineConfig(file)).toThrow(/silentTimout/);
      writeFileSync(file, JSON.stringify({ links: [{ name: 'radio', heartbeatIntervalMs: 5_000, silentTimeoutMs: 5_000 }] }));
      expect(() => loadLifelineConfig(file)).toThrow(/links\[0\]\.heartbeatIntervalMs: heartbeatIntervalMs must be shorter/);
      writeFileSync(file, JSON.stringify({ links: [{ name: 'has space' }] }));
      expect(() => loadLifelineConfig(file)).toThrow(/links\[0\]\.name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('projectLinkRecord', () => {
  const entry = { num: 7, id: '!00000007', long_name: 'Seven', short_name: 'S7', hw_model: 43, public_key: 'k', key_changed: false, reported_key: null, last_heard: null };
  const record = (nodeChanges: unknown[], to = 'ready.syncPending'): TransitionRecord => ({
    v: 1,
    kind: 'link',
    id: 'radio.a',
    incarnation: 'inc-1',
    seq: 3,
    at: '2024-06-01T00:00:00.000Z',
    from: 'configuring',
    to,
    event: 'radio.frame',
    context: { link: 'radio.a', node_changes: nodeChanges },
  });

  it('puts each node the record carries under token(link).<num>, version-guarded', () => {
    expect(meshNodeKey('radio.a', 7)).toBe('radio_2Ea.7');
    expect(projectLinkRecord(record([entry]))).toEqual({
      ok: true,
      effects: [
        {
          op: 'put',
          bucket: 'mesh_nodes',
          key: 'radio_2Ea.7',
          value: { ...entry, link: 'radio.a', incarnation: 'inc-1', seq: 3, updated_at: '2024-06-01T00:00:00.000Z' },
          version: { incarnation: 'inc-1', seq: 3 },
        },
      ],
    });
    expect(projectLinkRecord(record([], 'reconnecting'))).toEqual({ ok: true, effects: [] });
    expect(projectLinkRecord(record([{ num: 'x' }]))).toMatchObject({ ok: false });
  });

  it('is wired into projectMessage next to the actors entry', () => {
    const projected = projectMessage('conn.link.radio_2Ea.ready', new TextEncoder().encode(JSON.stringify(record([entry]))));
    expect(projected.ok && projected.effects.map((e) => [e.op, e.bucket])).toEqual([
      ['putActor', 'actors'],
      ['put', 'mesh_nodes'],
    ]);
  });
});
