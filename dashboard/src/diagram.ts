/** A statechart diagram in SVG from a machine definition (GET /api/machines): nested boxes, edges with events. */
import type { StateNodeJson } from './machineJson.ts';

export type { StateNodeJson };

interface Box {
  node: StateNodeJson;
  x: number;
  y: number;
  w: number;
  h: number;
  children: Box[];
}

const GAP = 110;
const PAD = 14;
const HEADER = 26;
const SVG_NS = 'http://www.w3.org/2000/svg';

function measure(node: StateNodeJson): Box {
  const children = Object.values(node.states).map(measure);
  const invokeLines = node.invoke.length;
  const labelW = node.key.length * 7.5 + 24;
  const invokeW = Math.max(0, ...node.invoke.map((i) => (i.src.length + 8) * 6));
  if (children.length === 0) return { node, x: 0, y: 0, w: Math.max(96, labelW, invokeW), h: 34 + invokeLines * 13, children };
  const cols = node.type === 'parallel' ? children.length : Math.min(children.length, 3);
  const rows: Box[][] = [];
  children.forEach((c, i) => (rows[Math.floor(i / cols)] ??= []).push(c));
  let y = HEADER + invokeLines * 13 + PAD;
  let width = 0;
  for (const row of rows) {
    let x = PAD;
    const rowH = Math.max(...row.map((c) => c.h));
    for (const c of row) {
      c.x = x;
      c.y = y;
      x += c.w + GAP;
    }
    width = Math.max(width, x - GAP + PAD);
    y += rowH + GAP;
  }
  return { node, x: 0, y: 0, w: Math.max(width, labelW, invokeW), h: y - GAP + PAD, children };
}

/** Absolute positions of every box, by state node id. */
function place(box: Box, ox: number, oy: number, out: Map<string, Box>): void {
  box.x += ox;
  box.y += oy;
  out.set(box.node.id, box);
  for (const c of box.children) place(c, box.x, box.y, out);
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Where the segment from the centre of `b` towards (tx, ty) leaves `b`. */
function border(b: Box, tx: number, ty: number): [number, number] {
  const cx = b.x + b.w / 2;
  const cy = b.y + b.h / 2;
  const dx = tx - cx;
  const dy = ty - cy;
  if (dx === 0 && dy === 0) return [cx, cy];
  const scale = Math.min(dx === 0 ? Infinity : b.w / 2 / Math.abs(dx), dy === 0 ? Infinity : b.h / 2 / Math.abs(dy));
  return [cx + dx * scale, cy + dy * scale];
}

function shortEvent(event: string, delayed: boolean | undefined): string {
  if (delayed) return `after ${event.replace(/^xstate\.after\./, '').split('.')[0]}`;
  return event.replace(/^xstate\.done\.actor\./, 'done: ').replace(/^xstate\.error\.actor\./, 'error: ');
}

/** Draws the machine; state boxes carry `data-state-id` so the active ones can be highlighted. */
export function drawMachine(root: StateNodeJson): SVGSVGElement {
  const top = measure(root);
  const boxes = new Map<string, Box>();
  place(top, 10, 10, boxes);
  const svg = el('svg', { viewBox: `0 0 ${top.w + 20} ${top.h + 20}`, width: top.w + 20, height: top.h + 20, role: 'img' });
  const defs = el('defs', {});
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a94a6' }));
  defs.append(marker);
  svg.append(defs);
  const drawBox = (b: Box): void => {
    const g = el('g', { class: `node ${b.node.type}`, 'data-state-id': b.node.id, 'data-path': b.node.path });
    g.append(el('rect', { x: b.x, y: b.y, width: b.w, height: b.h }));
    g.append(el('text', { x: b.x + 10, y: b.y + 18 }, `${b.node.key}${b.node.type === 'parallel' ? ' ∥' : ''}`));
    b.node.invoke.forEach((i, k) => g.append(el('text', { class: 'invoke', x: b.x + 10, y: b.y + 31 + k * 13 }, `invoke ${i.src}`)));
    svg.append(g);
    b.children.forEach(drawBox);
  };
  drawBox(top);
  // one line per (source, target) pair, its events stacked; the reverse direction is offset
  const pairs = new Map<string, { from: Box; to: Box; labels: Array<{ text: string; delayed: boolean }> }>();
  for (const b of boxes.values()) {
    for (const t of b.node.transitions) {
      for (const target of t.targets) {
        const to = boxes.get(target);
        if (!to || to === b) continue;
        const key = `${b.node.id}>${target}`;
        const pair = pairs.get(key) ?? { from: b, to, labels: [] };
        const text = `${shortEvent(t.event, t.delayed)}${t.guard ? ` [${t.guard}]` : ''}`;
        if (!pair.labels.some((l) => l.text === text)) pair.labels.push({ text, delayed: !!t.delayed });
        pairs.set(key, pair);
      }
    }
  }
  for (const [key, { from, to, labels }] of pairs) {
    const reverse = pairs.has(`${to.node.id}>${from.node.id}`) && key > `${to.node.id}>${from.node.id}`;
    const off = reverse ? 8 : 0;
    const [x1, y1] = border(from, to.x + to.w / 2, to.y + to.h / 2 + off);
    const [x2, y2] = border(to, from.x + from.w / 2, from.y + from.h / 2 + off);
    const delayed = labels.every((l) => l.delayed);
    svg.append(el('path', { class: delayed ? 'edge delayed' : 'edge', d: `M ${x1} ${y1 + off} L ${x2} ${y2 + off}` }));
    const lx = (x1 + x2) / 2 + 3;
    const ly = (y1 + y2) / 2 + off + (reverse ? 12 : -4 - 11 * (labels.length - 1));
    labels.forEach((l, i) => svg.append(el('text', { class: l.delayed ? 'label delayed' : 'label', x: lx, y: ly + i * 11 }, l.text)));
  }
  return svg;
}

/** Paths of the active state nodes for a dotted state path (`ready.synced,ready.heartbeat.idle`). */
export function activePaths(path: string): Set<string> {
  const paths = new Set<string>();
  for (const leaf of path.split(',')) {
    const parts = leaf.split('.');
    for (let i = 1; i <= parts.length; i++) paths.add(parts.slice(0, i).join('.'));
  }
  return paths;
}

/** Marks the active state boxes (class `active`) of a drawn diagram. */
export function highlight(svg: SVGSVGElement, path: string): void {
  const active = activePaths(path);
  svg.querySelectorAll<SVGGElement>('g.node').forEach((g) => {
    const p = g.getAttribute('data-path') ?? '';
    g.classList.toggle('active', p !== '' && active.has(p));
  });
}
