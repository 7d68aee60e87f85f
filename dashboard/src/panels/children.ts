import { ago, getJson, h, renderer, table } from '../dom.ts';
import { childSchema, parseList, projectionFrameSchema, type Child } from '../frames.ts';
import type { Panel } from '../hubSocket.ts';
import { errorBlock } from './errorBlock.ts';

function uptime(ms: number | null): string {
  if (ms === null) return '';
  const s = Math.round(ms / 1000);
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/** Supervised children: state, pid, restarts, health, last error with its steps. `child` topic + GET /api/children. */
export function childrenPanel(root: HTMLElement): Panel & { children: Map<string, Child> } {
  const children = new Map<string, Child>();
  const render = renderer(() => {
    const list = [...children.values()].sort((a, b) => a.name.localeCompare(b.name));
    root.replaceChildren(
      h('h2', {}, `Children (${children.size})`),
      list.length === 0
        ? h('p', { class: 'empty' }, 'no supervised child (declare them in lifeline.config.json)')
        : table(
            ['child', 'state', 'pid', 'restarts', 'health', 'last error'],
            list.map((c) => {
              const check = c.last_health_check;
              const top = c.state.split('.')[0] ?? '';
              return h(
                'tr',
                { class: `child${top === 'failed' ? ' failed' : ''}${c.ready ? ' ready' : ''}`, 'data-child': c.name, 'data-state': c.state },
                h('td', { class: 'mono' }, c.name),
                h('td', { class: 'state' }, c.state, c.ready ? h('div', { class: 'muted' }, `up ${uptime(c.uptime_ms)}`) : null),
                h('td', { class: 'mono pid' }, c.pid === null ? '—' : String(c.pid)),
                h('td', { class: 'restarts' }, `${c.restart_attempts}`, h('div', { class: 'muted' }, `budget ${c.restart_budget.used}/${c.restart_budget.max}`)),
                h('td', { class: `health ${check ? (check.ok ? 'ok' : 'bad') : ''}` }, check ? `${check.ok ? 'ok' : 'failing'} ${ago(check.at)} ago` : '—', check && !check.ok ? h('div', { class: 'muted' }, check.reason) : null),
                h('td', {}, c.last_error ? errorBlock(c.last_error, `child:${c.name}`) : ''),
              );
            }),
          ),
    );
  });
  return {
    children,
    topics: ['child'],
    async load() {
      for (const c of parseList(childSchema, await getJson('/api/children'))) children.set(c.name, c);
      render();
    },
    onFrame(frame) {
      if (frame.type !== 'child') return;
      const f = projectionFrameSchema.safeParse(frame);
      const c = f.success ? childSchema.safeParse(f.data.value) : undefined;
      if (!c?.success) return;
      children.set(c.data.name, c.data);
      render();
    },
  };
}
