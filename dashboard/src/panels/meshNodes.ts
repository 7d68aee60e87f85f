import { ago, getJson, h, renderer, table } from '../dom.ts';
import { meshNodeSchema, parseList, projectionFrameSchema, type MeshNode } from '../frames.ts';
import type { Panel } from '../hubSocket.ts';

/**
 * The nodes each ESP32 link's radio knows, with key status (ok / missing / changed), under
 * the link's own state. `mesh_node` topic + GET /api/mesh-nodes; the link's state comes
 * from the overview's actors.
 */
export function meshNodesPanel(root: HTMLElement, linkState: (link: string) => string | undefined): Panel & { nodes: Map<string, MeshNode>; refresh(): void } {
  const nodes = new Map<string, MeshNode>();
  const render = renderer(() => {
    const links = [...new Set([...nodes.values()].map((n) => n.link))].sort();
    root.replaceChildren(
      h('h2', {}, `Mesh nodes (${nodes.size})`),
      ...(links.length === 0 ? [h('p', { class: 'empty' }, 'no ESP32 link has synced yet (declare links in lifeline.config.json)')] : []),
      ...links.map((link) => {
        const list = [...nodes.values()].filter((n) => n.link === link).sort((a, b) => a.num - b.num);
        const count = (s: MeshNode['key_status']): number => list.filter((n) => n.key_status === s).length;
        const state = linkState(link);
        return h(
          'div',
          { class: 'link', 'data-link': link, 'data-link-state': state ?? '' },
          h('h3', {}, `${link} `, h('span', { class: `state${state?.startsWith('failed') ? ' failed' : ''}` }, state ?? 'state unknown')),
          h('p', { class: 'summary' }, `${list.length} nodes · ${count('ok')} keys ok · ${count('missing')} missing · ${count('changed')} changed`),
          h(
            'div',
            { class: 'scroll' },
            table(
              ['node', 'name', 'key', 'last heard'],
              list.map((n) =>
                h(
                  'tr',
                  { class: `mesh-node key-${n.key_status}`, 'data-node': n.id, 'data-num': String(n.num), 'data-key-status': n.key_status },
                  h('td', { class: 'mono' }, n.id),
                  h('td', {}, `${n.long_name} (${n.short_name})`),
                  h('td', { title: n.key_status === 'changed' ? `reported ${n.reported_key ?? ''}` : (n.public_key ?? '') }, h('span', { class: `badge key-${n.key_status}` }, n.key_status)),
                  h('td', { title: n.last_heard ?? '' }, n.last_heard ? `${ago(n.last_heard)} ago` : '—'),
                ),
              ),
            ),
          ),
        );
      }),
    );
  });
  return {
    nodes,
    refresh: render,
    topics: ['mesh_node'],
    async load() {
      for (const n of parseList(meshNodeSchema, await getJson('/api/mesh-nodes'))) nodes.set(`${n.link}\u0000${n.num}`, n);
      render();
    },
    onFrame(frame) {
      if (frame.type !== 'mesh_node') return;
      const f = projectionFrameSchema.safeParse(frame);
      const n = f.success ? meshNodeSchema.safeParse(f.data.value) : undefined;
      if (!n?.success) return;
      nodes.set(`${n.data.link}\u0000${n.data.num}`, n.data);
      render();
    },
  };
}
