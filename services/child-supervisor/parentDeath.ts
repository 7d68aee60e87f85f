import { existsSync } from 'node:fs';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];
const SH = '/bin/sh';

/**
 * Children die with the supervisor, even when it is SIGKILLed (Linux). The command runs
 * through `setpriv --pdeathsig KILL` (util-linux): the kernel sends it SIGKILL when its
 * parent dies. setpriv execs a one-line `sh` guard, which execs the command: the child
 * keeps one PID, and no helper process stays behind. The guard closes the race where the
 * supervisor dies before the death signal was armed: the shell then sees a parent other
 * than the supervisor and exits (code 70) instead of running an orphan.
 *
 * Only the direct child is covered: a command that forks and leaves its own children
 * behind should `exec` instead (graceful stops signal the whole process group anyway).
 */
export interface ParentDeathWrapper {
  command: string;
  args: string[];
  /** false where setpriv or /bin/sh is missing: the command runs as is. */
  armed: boolean;
}

const GUARD = '[ "$PPID" = "$1" ] || { echo "lifeline: supervisor $1 is gone; not starting" >&2; exit 70; }; shift; exec "$@"';

let setprivPath: string | null | undefined;

function findSetpriv(): string | null {
  if (setprivPath === undefined) setprivPath = process.platform === 'linux' && existsSync(SH) ? (SETPRIV.find((p) => existsSync(p)) ?? null) : null;
  return setprivPath;
}

export function withParentDeath(command: string, args: string[], parentPid: number = process.pid): ParentDeathWrapper {
  const setpriv = findSetpriv();
  if (!setpriv) return { command, args, armed: false };
  return { command: setpriv, args: ['--pdeathsig', 'KILL', '--', SH, '-c', GUARD, 'lifeline-child', String(parentPid), command, ...args], armed: true };
}
