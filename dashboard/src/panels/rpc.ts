import { ago, brief, h, renderer, table } from '../dom.ts';
import { rpcDataSchema, rpcNoticeSchema, type RpcData } from '../frames.ts';
import type { Panel } from '../hubSocket.ts';

/** The data messages of ws/rpcFeed.ts; `rpc_error` and `notification` tell what happened to a poller. */
export const RPC_DATA_TOPICS = ['system_status', 'storage_update', 'agent_status', 'compression_update'] as const;

/**
 * RPC data per poller and method, with the stale banner: when any method's data is stale
 * (the poller's circuit is not closed) the poller gets a banner saying since when the data
 * is cached and why. The hub sends every poller's current data when the page connects.
 */
export function rpcPanel(root: HTMLElement): Panel & { data: Map<string, RpcData> } {
  const data = new Map<string, RpcData>();
  const notices = new Map<string, { code: string; message: string; at: string }>();
  const render = renderer(() => {
    const pollers = [...new Set([...data.values()].map((d) => d.poller))].sort();
    root.replaceChildren(
      h('h2', {}, `RPC data (${pollers.length} poller${pollers.length === 1 ? '' : 's'})`),
      ...(pollers.length === 0 ? [h('p', { class: 'empty' }, 'no RPC poller (declare them in lifeline.config.json)')] : []),
      ...pollers.map((poller) => {
        const methods = [...data.values()].filter((d) => d.poller === poller).sort((a, b) => a.method.localeCompare(b.method));
        const stale = methods.filter((m) => m.is_stale);
        const cached = stale.map((m) => m.cached_at).filter((c): c is string => !!c).sort()[0];
        const why = stale.find((m) => m.error)?.error;
        const notice = notices.get(poller);
        return h(
          'div',
          { class: 'poller', 'data-poller': poller, 'data-stale': String(stale.length > 0) },
          h('h3', {}, poller),
          stale.length > 0
            ? h(
                'div',
                { class: 'stale-banner', role: 'alert' },
                h('b', {}, 'Stale data'),
                cached ? ` — cached at ${new Date(cached).toLocaleTimeString()} (${ago(cached)} ago)` : ' — nothing cached yet',
                why ? h('div', { class: 'why' }, `${why.code}: ${why.message}`) : null,
              )
            : null,
          notice ? h('div', { class: `notice ${notice.code === 'RPC_RECOVERED' ? 'ok' : 'bad'}` }, `${notice.code}: ${notice.message} (${ago(notice.at)} ago)`) : null,
          table(
            ['method', 'data', 'cached'],
            methods.map((m) =>
              h(
                'tr',
                { class: `rpc-method${m.is_stale ? ' stale' : ''}`, 'data-method': m.method, 'data-stale': String(m.is_stale) },
                h('td', { class: 'mono' }, m.method, m.is_stale ? h('span', { class: 'badge failed' }, 'stale') : h('span', { class: 'badge completed' }, 'fresh')),
                h('td', { class: 'mono data' }, m.no_data ? 'no data' : brief(m.data)),
                h('td', { title: m.cached_at ?? '' }, m.cached_at ? `${ago(m.cached_at)} ago` : '—'),
              ),
            ),
          ),
        );
      }),
    );
  });
  return {
    data,
    topics: [...RPC_DATA_TOPICS, 'rpc_error', 'notification'],
    async load() {
      // no list route: the hub greets every new connection with the current data
      render();
    },
    onFrame(frame) {
      if ((RPC_DATA_TOPICS as readonly string[]).includes(frame.type)) {
        const d = rpcDataSchema.safeParse(frame);
        if (!d.success) return;
        data.set(`${d.data.poller}\u0000${d.data.method}`, d.data);
      } else if (frame.type === 'rpc_error' || frame.type === 'notification') {
        const n = rpcNoticeSchema.safeParse(frame);
        if (!n.success) return;
        notices.set(n.data.poller, { code: n.data.code, message: n.data.message, at: new Date().toISOString() });
      } else return;
      render();
    },
  };
}
