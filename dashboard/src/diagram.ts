/**
 * A statechart diagram in SVG from a machine definition (GET /api/machines): nested and
 * parallel regions as nested boxes, transitions as routed edges with their events. The
 * layout is ELK's layered algorithm (elkjs, bundled by Vite: no network), which routes the
 * edges around the boxes and gives every edge label its own place, so labels overlap
 * neither each other nor the boxes.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { StateNodeJson } from './machineJson.ts';

export type { StateNodeJson };

const SVG_NS = 'http://www.w3.org/2000/svg';
const TITLE_FONT = '12px system-ui, sans-serif';
const INVOKE_FONT = '10px system-ui, sans-serif';
const LABEL_FONT = '10px system-ui, sans-serif';
const LABEL_LINE = 14;
const INVOKE_LINE = 13;
const HEADER = 24;

/** One edge per (source, target) pair; its events stacked in one label. */
interface EdgeInfo {
  id: string;
  from: string;
  to: string;
  lines: Array<{ text: string; delayed: boolean }>;
}

let canvas: CanvasRenderingContext2D | null = null;
/** Text width in the font the SVG uses (a canvas measures it; no layout of the page needed). */
function textWidth(text: string, font: string): number {
  canvas ??= document.createElement('canvas').getContext('2d');
  if (!canvas) return text.length * 7;
  canvas.font = font;
  return canvas.measureText(text).width;
}

function shortEvent(event: string, delayed: boolean | undefined): string {
  if (delayed) return `after ${event.replace(/^xstate\.after\./, '').split('.')[0]}`;
  return event.replace(/^xstate\.done\.actor\./, 'done: ').replace(/^xstate\.error\.actor\./, 'error: ');
}

function titleOf(node: StateNodeJson): string {
  return `${node.key}${node.type === 'parallel' ? ' ∥' : ''}`;
}

function headerHeight(node: StateNodeJson): number {
  return HEADER + node.invoke.length * INVOKE_LINE;
}

function minWidth(node: StateNodeJson): number {
  const invoke = Math.max(0, ...node.invoke.map((i) => textWidth(`invoke ${i.src}`, INVOKE_FONT)));
  return Math.ceil(Math.max(textWidth(titleOf(node), TITLE_FONT), invoke)) + 22;
}

/** Every transition of the machine, grouped per (source, target); self-transitions included. */
function edgesOf(root: StateNodeJson): EdgeInfo[] {
  const ids = new Set<string>();
  const all: StateNodeJson[] = [];
  const walk = (n: StateNodeJson): void => {
    ids.add(n.id);
    all.push(n);
    Object.values(n.states).forEach(walk);
  };
  walk(root);
  const edges = new Map<string, EdgeInfo>();
  for (const n of all) {
    for (const t of n.transitions) {
      for (const target of t.targets) {
        if (!ids.has(target)) continue;
        const key = `${n.id}>${target}`;
        const edge = edges.get(key) ?? { id: `e${edges.size}`, from: n.id, to: target, lines: [] };
        const text = `${shortEvent(t.event, t.delayed)}${t.guard ? ` [${t.guard}]` : ''}`;
        if (!edge.lines.some((l) => l.text === text)) edge.lines.push({ text, delayed: !!t.delayed });
        edges.set(key, edge);
      }
    }
  }
  return [...edges.values()];
}

/**
 * The ELK graph: one node per state (compound and parallel states hold their children; the
 * regions of a parallel state, not connected to each other, come out stacked in its dashed
 * box), every edge at the root.
 */
function elkGraph(root: StateNodeJson, edges: EdgeInfo[]): ElkNode {
  const node = (n: StateNodeJson): ElkNode => {
    const children = Object.values(n.states);
    if (children.length === 0) return { id: n.id, width: minWidth(n), height: 12 + headerHeight(n) };
    return {
      id: n.id,
      layoutOptions: {
        'elk.padding': `[top=${headerHeight(n) + 8},left=14,bottom=14,right=14]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${minWidth(n)}, ${headerHeight(n) + 20})`,
      },
      children: children.map(node),
    };
  };
  const elkEdges: ElkExtendedEdge[] = edges.map((e) => ({
    id: e.id,
    sources: [e.from],
    targets: [e.to],
    labels: [
      {
        id: `${e.id}l`,
        text: e.lines.map((l) => l.text).join('\n'),
        width: Math.ceil(Math.max(...e.lines.map((l) => textWidth(l.text, LABEL_FONT)))) + 4,
        height: e.lines.length * LABEL_LINE + 2,
      },
    ],
  }));
  // the machine's own box is a child of the graph, so its transitions (from any state) can be edges too
  return {
    id: '__graph',
    children: [node(root)],
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.spacing.nodeNode': '26',
      'elk.spacing.edgeLabel': '4',
      'elk.spacing.edgeEdge': '10',
      'elk.spacing.edgeNode': '14',
      'elk.layered.spacing.edgeNodeBetweenLayers': '14',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.layered.compaction.postCompaction.strategy': 'EDGE_LENGTH',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
    },
    edges: elkEdges,
  };
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const elk = new ELK();
const layouts = new Map<StateNodeJson, Promise<ElkNode>>();

/** ELK's layout of a machine, computed once per definition. */
function layout(root: StateNodeJson, edges: EdgeInfo[]): Promise<ElkNode> {
  let done = layouts.get(root);
  if (!done) layouts.set(root, (done = elk.layout(elkGraph(root, edges))));
  return done;
}

/** Draws the machine; state boxes carry `data-state-id` and `data-path` so the active ones can be highlighted. */
export async function drawMachine(root: StateNodeJson): Promise<SVGSVGElement> {
  const edges = edgesOf(root);
  const laid = await layout(root, edges);
  const byId = new Map<string, StateNodeJson>();
  const index = (n: StateNodeJson): void => {
    byId.set(n.id, n);
    Object.values(n.states).forEach(index);
  };
  index(root);
  const M = 10;
  const w = (laid.width ?? 0) + 2 * M;
  const h = (laid.height ?? 0) + 2 * M;
  const svg = el('svg', { viewBox: `${-M} ${-M} ${w} ${h}`, width: w, height: h, role: 'img' });
  const defs = el('defs', {});
  for (const [id, fill] of [['arrow', '#8a94a6'], ['arrow-delayed', '#c07a00']] as const) {
    const marker = el('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill }));
    defs.append(marker);
  }
  svg.append(defs);

  const drawBox = (b: ElkNode): void => {
    const n = byId.get(b.id);
    if (!n) return;
    const x = b.x ?? 0;
    const y = b.y ?? 0;
    const g = el('g', { class: `node ${n.type}`, 'data-state-id': n.id, 'data-path': n.path });
    g.append(el('rect', { x, y, width: b.width ?? 0, height: b.height ?? 0 }));
    g.append(el('text', { class: 'title', x: x + 10, y: y + 17 }, titleOf(n)));
    n.invoke.forEach((i, k) => g.append(el('text', { class: 'invoke', x: x + 10, y: y + 30 + k * INVOKE_LINE }, `invoke ${i.src}`)));
    if (n.initial && n.states[n.initial]) g.setAttribute('data-initial', n.initial);
    svg.append(g);
    (b.children ?? []).forEach(drawBox);
  };
  (laid.children ?? []).forEach(drawBox);
  // the initial state of each compound state: a dot with an arrow into it
  const initials = el('g', { class: 'initials' });
  for (const n of byId.values()) {
    const child = n.initial ? n.states[n.initial] : undefined;
    const box = child ? findBox(laid, child.id) : undefined;
    if (!box) continue;
    // off the box's top-left corner, where edges (which enter at the sides) do not run
    const x = box.x ?? 0;
    const y = box.y ?? 0;
    initials.append(el('circle', { class: 'initial', cx: x - 5, cy: y - 5, r: 3 }), el('path', { class: 'initial', d: `M ${x - 5} ${y - 5} L ${x} ${y}` }));
  }
  svg.append(initials);

  const info = new Map(edges.map((e) => [e.id, e]));
  const edgeLayer = el('g', { class: 'edges' });
  const labelLayer = el('g', { class: 'labels' });
  for (const e of laid.edges ?? []) {
    const edge = info.get(e.id);
    if (!edge) continue;
    const delayed = edge.lines.every((l) => l.delayed);
    for (const s of e.sections ?? []) {
      const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
      edgeLayer.append(
        el('path', {
          class: delayed ? 'edge delayed' : 'edge',
          'data-edge': `${edge.from}>${edge.to}`,
          d: pts.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' '),
        }),
      );
    }
    const label = e.labels?.[0];
    if (!label) continue;
    const lx = (label.x ?? 0) + 2;
    edge.lines.forEach((l, i) =>
      labelLayer.append(el('text', { class: l.delayed ? 'label delayed' : 'label', x: lx, y: (label.y ?? 0) + 10 + i * LABEL_LINE, 'data-edge': `${edge.from}>${edge.to}` }, l.text)),
    );
  }
  svg.append(edgeLayer, labelLayer);
  return svg;
}

function findBox(n: ElkNode, id: string): ElkNode | undefined {
  if (n.id === id) return n;
  for (const c of n.children ?? []) {
    const found = findBox(c, id);
    if (found) return found;
  }
  return undefined;
}
