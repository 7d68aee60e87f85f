import { ago, getJson, h, renderer, table } from '../dom.ts';
import { flowSchema, parseList, projectionFrameSchema, type Flow } from '../frames.ts';
import type { Panel } from '../hubSocket.ts';

const SHOWN = 50;

/** Flows (device commands), latest first: status, device, error, last update. `flow` topic + GET /api/flows. */
export function flowsPanel(root: HTMLElement): Panel & { flows: Map<string, Flow> } {
  const flows = new Map<string, Flow>();
  /** The bucket key (a token of the node id) of each flow a frame named. */
  const nodeOfKey = new Map<string, string>();
  const render = renderer(() => {
    const list = [...flows.values()].sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, SHOWN);
    const counts = Object.fromEntries(['started', 'in progress', 'completed', 'failed'].map((s) => [s, [...flows.values()].filter((f) => f.status === s).length]));
    root.replaceChildren(
      h('h2', {}, `Flows (${flows.size})`),
      h('p', { class: 'summary' }, Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(' · ')),
      list.length === 0
        ? h('p', { class: 'empty' }, 'no device command yet')
        : table(
            ['node', 'device', 'status', 'error', 'updated'],
            list.map((f) =>
              h(
                'tr',
                { class: `flow status-${f.status.replace(' ', '-')}`, 'data-node': f.node_id, 'data-status': f.status },
                h('td', { class: 'mono' }, f.node_id),
                h('td', { class: 'mono' }, f.device_id),
                h('td', {}, h('span', { class: `badge ${f.status.replace(' ', '-')}` }, f.status)),
                h('td', { class: 'error' }, f.error ? `${f.error.code}: ${f.error.message}` : ''),
                h('td', { title: f.updated_at }, `${ago(f.updated_at)} ago`),
              ),
            ),
          ),
    );
  });
  return {
    flows,
    topics: ['flow'],
    async load() {
      for (const f of parseList(flowSchema, await getJson(`/api/flows?limit=${SHOWN}`))) flows.set(f.node_id, f);
      render();
    },
    onFrame(frame) {
      if (frame.type !== 'flow') return;
      const f = projectionFrameSchema.safeParse(frame);
      if (!f.success) return;
      if (f.data.value === null) {
        flows.delete(nodeOfKey.get(f.data.key) ?? '');
      } else {
        const flow = flowSchema.safeParse(f.data.value);
        if (!flow.success) return;
        flows.set(flow.data.node_id, flow.data);
        nodeOfKey.set(f.data.key, flow.data.node_id);
      }
      render();
    },
  };
}
