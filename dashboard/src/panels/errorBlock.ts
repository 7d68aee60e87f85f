import { h } from '../dom.ts';
import { stepsOf, type ErrorInfo } from '../frames.ts';

/**
 * An error as code, message and, when it has them, the troubleshooting steps (the
 * commands to run next) and its other details, folded (`open` unfolds them). With a `key`,
 * the fold stays as the user left it when the block is drawn again.
 */
const unfolded = new Set<string>();

export function errorBlock(error: ErrorInfo, key?: string, open = false): HTMLElement {
  const steps = stepsOf(error);
  const facts = Object.entries(error.details ?? {}).filter(([k, v]) => k !== 'troubleshooting' && v !== null && typeof v !== 'object');
  const block = h('div', { class: 'error-block', 'data-code': error.code }, h('div', { class: 'error' }, h('b', { class: 'code' }, error.code), `: ${error.message}`));
  if (steps.length === 0 && facts.length === 0) return block;
  const more = h(
    'details',
    { class: 'troubleshooting' },
    h('summary', {}, steps.length > 0 ? `troubleshooting (${steps.length} step${steps.length > 1 ? 's' : ''})` : 'details'),
    steps.length > 0 ? h('ol', { class: 'steps' }, ...steps.map((s) => h('li', {}, h('code', {}, s)))) : null,
    facts.length > 0 ? h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])) : null,
  );
  const id = key === undefined ? undefined : `${key}\u0000${error.code}`;
  more.open = open || (id !== undefined && unfolded.has(id));
  more.addEventListener('toggle', () => {
    if (id !== undefined) void (more.open ? unfolded.add(id) : unfolded.delete(id));
  });
  // a click on the fold opens it, not the row it sits in
  more.addEventListener('click', (e) => e.stopPropagation());
  block.append(more);
  return block;
}
