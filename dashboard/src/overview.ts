import { highlight } from './highlight.ts';
import { ago, getJson, h, renderer } from './dom.ts';
import { actorErrorSchema, actorSchema, parseList, projectionFrameSchema, stepsOf, type Actor, type ErrorInfo } from './frames.ts';
import type { Panel } from './hubSocket.ts';
import type { MachineJson } from './machineJson.ts';
import { errorBlock } from './panels/errorBlock.ts';

interface Transition {
  at: string;
  state: string;
  error?: string;
}

export const KINDS = ['device', 'telemetry', 'child', 'rpc', 'link', 'client'];
const HISTORY = 20;
const keyOf = (a: { kind: string; id: string }): string => `${a.kind}:${a.id}`;
const $ = (id: string): HTMLElement => document.getElementById(id)!;

/** An error seen again with less (GET /api/actors carries no details) keeps what was known of it. */
function mergeError(previous: ErrorInfo | undefined, next: ErrorInfo | undefined): ErrorInfo | undefined {
  if (!next || !previous || previous.code !== next.code || previous.message !== next.message) return next;
  return stepsOf(next).length === 0 && stepsOf(previous).length > 0 ? { ...previous, ...next, details: next.details ?? previous.details, troubleshooting: stepsOf(previous) } : next;
}

/**
 * The overview (every actor by kind: state, time in state, last error with its
 * troubleshooting steps) and, for a selected actor, its live statechart and recent
 * transitions. `actor` topic + GET /api/actors and /api/actor-errors.
 */
export function overviewPanel(machines: Map<string, MachineJson>, onChange: (kind: string) => void) {
  const actors = new Map<string, Actor>();
  const history = new Map<string, Transition[]>();
  let selected: string | null = null;
  let diagram: SVGSVGElement | null = null;
  /** The kind whose machine #diagram shows (one drawing serves every actor of the kind). */
  let drawnKind: string | undefined;

  function record(entry: Actor): void {
    const key = keyOf(entry);
    const error = mergeError(actors.get(key)?.error, entry.error);
    const merged: Actor = { ...entry, ...(error ? { error } : {}) };
    const list = history.get(key) ?? [];
    const last = list[list.length - 1];
    if (!last || last.state !== entry.state || last.at !== entry.since) {
      list.push({ at: entry.since, state: entry.state, ...(entry.error ? { error: `${entry.error.code}: ${entry.error.message}` } : {}) });
      if (list.length > HISTORY) list.shift();
      history.set(key, list);
    }
    actors.set(key, merged);
  }

  function renderOverview(): void {
    const root = $('overview');
    root.replaceChildren(
      ...KINDS.map((kind) => {
        const list = [...actors.values()].filter((a) => a.kind === kind).sort((a, b) => a.id.localeCompare(b.id));
        const rows = list.map((a) => {
          const tr = h(
            'tr',
            { class: `actor${a.state.startsWith('failed') ? ' failed' : ''}${keyOf(a) === selected ? ' selected' : ''}`, 'data-key': keyOf(a), 'data-state': a.state },
            h('td', { class: 'id' }, a.id),
            h('td', { class: 'state' }, a.state),
            h('td', { class: 'since' }, ago(a.since)),
            h('td', { class: 'last-error' }, a.error ? errorBlock(a.error, `actor:${keyOf(a)}`) : ''),
          );
          tr.addEventListener('click', () => select(keyOf(a)));
          return tr;
        });
        return h(
          'div',
          { class: 'kind', 'data-kind': kind },
          h('h2', {}, `${kind} (${list.length})`),
          h('table', {}, h('tr', {}, h('th', {}, 'id'), h('th', {}, 'state'), h('th', {}, 'for'), h('th', {}, 'last error')), ...rows),
        );
      }),
    );
  }

  function renderDetail(): void {
    const a = selected ? actors.get(selected) : undefined;
    const detail = $('detail');
    detail.hidden = !a;
    if (!a) return;
    $('detail-title').textContent = `${a.kind} ${a.id}`;
    const state = h('code', { id: 'detail-state' }, a.state);
    $('detail-meta').replaceChildren(h('p', {}, 'state ', state, ` for ${ago(a.since)}`), a.error ? errorBlock(a.error, `detail:${selected}`, true) : '');
    if (diagram) highlight(diagram, a.state);
    $('history').replaceChildren(
      ...[...(history.get(selected!) ?? [])].reverse().map((t) => h('li', {}, `${new Date(t.at).toLocaleTimeString()}  → ${t.state}${t.error ? `  (${t.error})` : ''}`)),
    );
  }

  const render = renderer(() => {
    renderOverview();
    renderDetail();
  });

  function select(key: string): void {
    selected = key;
    const a = actors.get(key);
    const machine = a ? machines.get(a.kind) : undefined;
    const kind = a?.kind;
    if (kind !== drawnKind) {
      diagram = null;
      drawnKind = kind;
      delete $('diagram').dataset.kind;
      $('diagram').replaceChildren(h('p', { class: 'muted' }, machine ? 'laying out the statechart…' : 'no statechart for this kind'));
      if (machine) {
        // ELK (the layout engine) is a large module: loaded when a first diagram is wanted
        void import('./diagram.ts').then(({ drawMachine }) => drawMachine(machine.root)).then(
          (svg) => {
            if (drawnKind !== kind) return; // another kind was selected meanwhile
            diagram = svg;
            $('diagram').replaceChildren(svg);
            $('diagram').dataset.kind = kind;
            renderDetail();
          },
          (err: unknown) => $('diagram').replaceChildren(h('p', { class: 'error' }, `the statechart could not be laid out: ${String(err)}`)),
        );
      }
    }
    renderOverview();
    renderDetail();
  }

  const panel: Panel & { actors: Map<string, Actor>; selected(): string | null; render(): void } = {
    actors,
    selected: () => selected,
    render,
    topics: ['actor'],
    async load() {
      for (const a of parseList(actorSchema, await getJson('/api/actors'))) record(a);
      // the errors' troubleshooting steps and details (GET /api/actors has code and message only)
      for (const e of parseList(actorErrorSchema, await getJson('/api/actor-errors'))) {
        const a = actors.get(keyOf(e));
        if (a && a.state === e.state) actors.set(keyOf(e), { ...a, error: mergeError(e.error, a.error) ?? e.error });
      }
      render();
      KINDS.forEach(onChange);
    },
    onFrame(frame) {
      if (frame.type !== 'actor') return;
      const f = projectionFrameSchema.safeParse(frame);
      const a = f.success ? actorSchema.safeParse(f.data.value) : undefined;
      if (!a?.success) return;
      record(a.data);
      render();
      onChange(a.data.kind);
    },
  };
  return panel;
}
