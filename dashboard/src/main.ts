import { getJson } from './dom.ts';
import { connectHub } from './hubSocket.ts';
import type { MachineJson } from './machineJson.ts';
import { overviewPanel } from './overview.ts';
import { childrenPanel } from './panels/children.ts';
import { flowsPanel } from './panels/flows.ts';
import { meshNodesPanel } from './panels/meshNodes.ts';
import { rpcPanel } from './panels/rpc.ts';
import { sessionsPanel } from './panels/sessions.ts';

/** The dashboard: the actors overview with live statecharts, and the panels of what the actors carry. */
const $ = (id: string): HTMLElement => document.getElementById(id)!;

const machines = new Map<string, MachineJson>();
const mesh = meshNodesPanel($('panel-mesh'), (link) => overview.actors.get(`link:${link}`)?.state);
// the mesh panel shows each link's state: redrawn when a link actor changes
const overview = overviewPanel(machines, (kind) => kind === 'link' && mesh.refresh());
const flows = flowsPanel($('panel-flows'));
const rpc = rpcPanel($('panel-rpc'));
const children = childrenPanel($('panel-children'));
const sessions = sessionsPanel($('panel-sessions'));

/** For tests and the curious: what the page knows. */
const exposed = {
  actors: overview.actors,
  selected: overview.selected,
  flows: flows.flows,
  rpc: rpc.data,
  children: children.children,
  sessions: sessions.sessions,
  meshNodes: mesh.nodes,
  frames: 0,
  connected: false,
};
(window as unknown as { lifelineOverview: typeof exposed }).lifelineOverview = exposed;

const fit = $('diagram-fit') as HTMLInputElement;
fit.addEventListener('change', () => $('diagram').classList.toggle('fit', fit.checked));

async function start(): Promise<void> {
  const list = await getJson('/api/machines');
  if (Array.isArray(list)) for (const m of list as MachineJson[]) machines.set(m.kind, m);
  connectHub([overview, flows, rpc, children, sessions, mesh], {
    open() {
      exposed.connected = true;
      $('conn').dataset.state = 'open';
      $('conn').textContent = 'live';
    },
    close() {
      exposed.connected = false;
      $('conn').dataset.state = 'closed';
      $('conn').textContent = 'disconnected — retrying';
    },
    frame() {
      exposed.frames++;
    },
  });
  setInterval(() => {
    // times ("for 12 s", "3 s ago") move on
    overview.render();
  }, 1_000);
}

void start();
