import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function terminateAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else handles this signal (e.g. the CLI's graceful shutdown, which stops
  // the server itself): leave it to them; the exit hook remains a last resort.
  if (process.listenerCount(signal) > 1) return;
  terminateAll();
  uninstall();
  // Die of the same signal, as the process would have without this hook.
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', terminateAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', terminateAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/**
 * Ties a child process to this one: SIGTERM is sent to it when this process exits or is
 * ended by SIGINT/SIGTERM/SIGHUP. (A SIGKILL of this process cannot be intercepted.)
 */
export function killWithParent(child: ChildProcess): void {
  children.add(child);
  install();
  const forget = (): void => {
    children.delete(child);
    if (children.size === 0) uninstall();
  };
  child.once('exit', forget);
  child.once('error', () => {
    if (child.pid === undefined) forget(); // it never started
  });
}
