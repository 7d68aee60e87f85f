import { drawMachine, highlight } from './diagram.ts';
import type { MachineJson } from './machineJson.ts';

/** The overview (every actor by kind) and, for a selected actor, its live statechart. */
interface ActorEntry {
  kind: string;
  id: string;
  state: string;
  since: string;
  seq: number;
  error?: { code: string; message: string };
}
interface Transition {
  at: string;
  state: string;
  error?: string;
}

const KINDS = ['device', 'telemetry', 'child', 'rpc', 'link', 'client'];
const HISTORY = 20;
const actors = new Map<string, ActorEntry>();
const history = new Map<string, Transition[]>();
const machines = new Map<string, MachineJson>();
let selected: string | null = null;
let diagram: SVGSVGElement | null = null;
/** For tests and the curious: what the page knows. */
const exposed = { actors, selected: () => selected, frames: 0, connected: false };
(window as unknown as { lifelineOverview: typeof exposed }).lifelineOverview = exposed;

const keyOf = (a: { kind: string; id: string }): string => `${a.kind}:${a.id}`;
const $ = (id: string): HTMLElement => document.getElementById(id)!;

function isActorEntry(v: unknown): v is ActorEntry {
  const o = v as Partial<ActorEntry> | null;
  return !!o && typeof o.kind === 'string' && typeof o.id === 'string' && typeof o.state === 'string' && typeof o.since === 'string';
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

function record(entry: ActorEntry): void {
  const key = keyOf(entry);
  const list = history.get(key) ?? [];
  const last = list[list.length - 1];
  if (!last || last.state !== entry.state || last.at !== entry.since) {
    list.push({ at: entry.since, state: entry.state, ...(entry.error ? { error: `${entry.error.code}: ${entry.error.message}` } : {}) });
    if (list.length > HISTORY) list.shift();
    history.set(key, list);
  }
  actors.set(key, entry);
}

function renderOverview(): void {
  const root = $('overview');
  root.replaceChildren();
  for (const kind of KINDS) {
    const list = [...actors.values()].filter((a) => a.kind === kind).sort((a, b) => a.id.localeCompare(b.id));
    const section = document.createElement('div');
    section.className = 'kind';
    section.dataset.kind = kind;
    section.innerHTML = `<h2>${kind} (${list.length})</h2>`;
    const table = document.createElement('table');
    table.innerHTML = '<tr><th>id</th><th>state</th><th>for</th><th>last error</th></tr>';
    for (const a of list) {
      const tr = document.createElement('tr');
      tr.className = `actor${a.state.startsWith('failed') ? ' failed' : ''}${keyOf(a) === selected ? ' selected' : ''}`;
      tr.dataset.key = keyOf(a);
      tr.dataset.state = a.state;
      const cells = [a.id, a.state, ago(a.since), a.error ? `${a.error.code}: ${a.error.message}` : ''];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        td.className = ['id', 'state', 'since', 'error'][i]!;
        tr.append(td);
      });
      tr.addEventListener('click', () => select(keyOf(a)));
      table.append(tr);
    }
    section.append(table);
    root.append(section);
  }
}

function renderDetail(): void {
  const a = selected ? actors.get(selected) : undefined;
  const detail = $('detail');
  detail.hidden = !a;
  if (!a) return;
  $('detail-title').textContent = `${a.kind} ${a.id}`;
  $('detail-meta').innerHTML = '';
  const meta = document.createElement('p');
  meta.innerHTML = `state <code id="detail-state"></code> for ${ago(a.since)}`;
  meta.querySelector('code')!.textContent = a.state;
  if (a.error) {
    const err = document.createElement('div');
    err.className = 'error';
    err.textContent = `${a.error.code}: ${a.error.message}`;
    meta.append(err);
  }
  $('detail-meta').append(meta);
  if (diagram) highlight(diagram, a.state);
  $('history').replaceChildren(
    ...[...(history.get(selected!) ?? [])].reverse().map((t) => {
      const li = document.createElement('li');
      li.textContent = `${new Date(t.at).toLocaleTimeString()}  → ${t.state}${t.error ? `  (${t.error})` : ''}`;
      return li;
    }),
  );
}

function select(key: string): void {
  selected = key;
  const a = actors.get(key);
  const machine = a ? machines.get(a.kind) : undefined;
  diagram = machine ? drawMachine(machine.root) : null;
  $('diagram').replaceChildren(...(diagram ? [diagram] : []));
  renderOverview();
  renderDetail();
}

function connect(): void {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.addEventListener('open', () => {
    exposed.connected = true;
    $('conn').dataset.state = 'open';
    $('conn').textContent = 'live';
    ws.send(JSON.stringify({ type: 'subscribe', topics: ['actor'] }));
    void loadActors();
  });
  ws.addEventListener('message', (m) => {
    let frame: { type?: string; key?: string; value?: unknown };
    try {
      frame = JSON.parse(String(m.data)) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
    if (frame.type !== 'actor') return;
    exposed.frames++;
    if (isActorEntry(frame.value)) record(frame.value);
    scheduleRender();
  });
  ws.addEventListener('close', () => {
    exposed.connected = false;
    $('conn').dataset.state = 'closed';
    $('conn').textContent = 'disconnected — retrying';
    setTimeout(connect, 1_000);
  });
}

let pending = false;
function scheduleRender(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    renderOverview();
    renderDetail();
  });
}

async function loadActors(): Promise<void> {
  const list = (await (await fetch('/api/actors')).json()) as unknown[];
  list.filter(isActorEntry).forEach(record);
  scheduleRender();
}

async function start(): Promise<void> {
  const list = (await (await fetch('/api/machines')).json()) as MachineJson[];
  for (const m of list) machines.set(m.kind, m);
  await loadActors();
  connect();
  setInterval(scheduleRender, 1_000); // time in state
}

void start();
