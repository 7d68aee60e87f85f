/** The live part of a drawn statechart: which state boxes are active. */

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
