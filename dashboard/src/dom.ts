/** Small DOM helpers shared by the overview and the panels. */

type Child = Node | string | null | undefined | false;

/** An element with attributes (`class`, `data-*`, …) and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** A table with a header row. */
export function table(headers: string[], rows: HTMLTableRowElement[]): HTMLTableElement {
  return h('table', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t))), ...rows);
}

/** How long ago `iso` was, short (`12 s`, `3 min`, `2 h`). */
export function ago(iso: string | null | undefined): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/** A short one-line rendering of any JSON value. */
export function brief(value: unknown, max = 90): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Runs `render` at most once per animation frame however often it is asked for. */
export function renderer(render: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  };
}

/** GET a JSON list from the hub; [] (and a console warning) when it fails. */
export async function getJson(path: string): Promise<unknown> {
  try {
    const res = await fetch(path);
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    return (await res.json()) as unknown;
  } catch (err) {
    console.warn(`GET ${path} failed`, err);
    return [];
  }
}
