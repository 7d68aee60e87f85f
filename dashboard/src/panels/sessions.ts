import { ago, getJson, h, renderer, table } from '../dom.ts';
import { errorSchema, parseList, projectionFrameSchema, sessionSchema, type Session } from '../frames.ts';
import type { Panel } from '../hubSocket.ts';

const num = (v: unknown): string => (typeof v === 'number' ? String(Math.round(v * 10) / 10) : '—');
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Telemetry sessions: the publisher's link, the latest sample, gaps. `telemetry_session` topic + GET /api/sessions. */
export function sessionsPanel(root: HTMLElement): Panel & { sessions: Map<string, Session> } {
  const sessions = new Map<string, Session>();
  const render = renderer(() => {
    const list = [...sessions.values()].sort((a, b) => a.session_id.localeCompare(b.session_id));
    root.replaceChildren(
      h('h2', {}, `Telemetry sessions (${sessions.size})`),
      list.length === 0
        ? h('p', { class: 'empty' }, 'no telemetry session yet')
        : table(
            ['session', 'publisher', 'latest sample', 'gaps'],
            list.map((s) => {
              const p = s.publisher ?? {};
              const t = s.telemetry ?? {};
              const state = text(p.state) ?? 'unknown';
              const error = errorSchema.safeParse(p.error);
              const sampleAt = text(t.at);
              return h(
                'tr',
                { class: `session${state.startsWith('connected') ? '' : ' failed'}`, 'data-session': s.session_id, 'data-state': state },
                h('td', {}, h('a', { href: `/dashboard/telemetry?session=${encodeURIComponent(s.session_id)}` }, s.session_id)),
                h(
                  'td',
                  { class: 'state' },
                  state,
                  h('div', { class: 'muted' }, `${num(p.connections)} connection(s)${typeof p.attempt === 'number' && p.attempt > 0 ? `, attempt ${p.attempt}` : ''}`),
                  error.success ? h('div', { class: 'error' }, `${error.data.code}: ${error.data.message}`) : null,
                ),
                h(
                  'td',
                  { class: 'sample' },
                  s.telemetry ? `lap ${num(t.lap)} · fuel ${num(t.fuel)} · P${num(t.position)}` : '—',
                  sampleAt ? h('div', { class: 'muted', title: sampleAt }, `${ago(sampleAt)} ago`) : null,
                ),
                h('td', {}, s.gap ? `${num(s.gap.dropped_total)} dropped` : 'none'),
              );
            }),
          ),
    );
  });
  return {
    sessions,
    topics: ['telemetry_session'],
    async load() {
      for (const s of parseList(sessionSchema, await getJson('/api/sessions'))) sessions.set(s.session_id, s);
      render();
    },
    onFrame(frame) {
      if (frame.type !== 'telemetry_session') return;
      const f = projectionFrameSchema.safeParse(frame);
      const s = f.success ? sessionSchema.safeParse(f.data.value) : undefined;
      if (!s?.success) return;
      sessions.set(s.data.session_id, s.data);
      render();
    },
  };
}
