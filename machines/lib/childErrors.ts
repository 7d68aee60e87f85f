/**
 * The error codes of a supervised child process, which of them are worth retrying, how a
 * crashed child's stderr is read to tell them apart, and the troubleshooting steps (the
 * next command to run) that go with each. Pure: used by machines/childProcess.ts.
 */

export const CHILD_ERROR_CODES = [
  'PYTHON_NOT_FOUND',
  'COMMAND_NOT_FOUND',
  'SCRIPT_NOT_FOUND',
  'DEPENDENCY_ERROR',
  'PORT_IN_USE',
  'PROCESS_SPAWN_ERROR',
  'PROCESS_CRASH',
  'HEALTH_CHECK_TIMEOUT',
  'HEALTH_CHECK_FAILED',
  'RESTART_BUDGET_EXHAUSTED',
] as const;
export type ChildErrorCode = (typeof CHILD_ERROR_CODES)[number];

/** Starting again cannot help until someone changes the machine or the configuration. */
export const NON_RETRYABLE_CHILD_ERRORS: ReadonlySet<ChildErrorCode> = new Set([
  'PYTHON_NOT_FOUND',
  'COMMAND_NOT_FOUND',
  'SCRIPT_NOT_FOUND',
  'DEPENDENCY_ERROR',
]);

export function isRetryableChildError(code: ChildErrorCode): boolean {
  return !NON_RETRYABLE_CHILD_ERRORS.has(code);
}

export interface StderrClassification {
  code: 'PORT_IN_USE' | 'DEPENDENCY_ERROR' | 'PROCESS_SPAWN_ERROR';
  /** The stderr line that matched. */
  line: string;
  /** DEPENDENCY_ERROR: the module that could not be imported, when the line names it. */
  module?: string;
}

const PORT_IN_USE = /address already in use|EADDRINUSE|\[Errno 98\]/i;
const DEPENDENCY = /ModuleNotFoundError|ImportError|No module named/;
const MODULE_NAMED = /No module named '?([A-Za-z0-9_.]+)'?|cannot import name '?[A-Za-z0-9_]+'? from '?([A-Za-z0-9_.]+)'?/;
/** What the parent-death wrapper (setpriv) or a shell prints when it cannot exec the command. */
const EXEC_FAILED = /failed to execute|exec format error|Permission denied|not found$/i;

/**
 * Reads the last stderr lines of a process that exited: the most recent line matching a
 * known pattern wins (a port clash or a missing module, as Python and Node print them).
 * null when nothing is recognised: an ordinary crash.
 */
export function classifyStderr(lines: readonly string[], exitCode: number | null = null): StderrClassification | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (PORT_IN_USE.test(line)) return { code: 'PORT_IN_USE', line };
    if (DEPENDENCY.test(line)) {
      const m = MODULE_NAMED.exec(line);
      const module = m?.[1] ?? m?.[2];
      return module ? { code: 'DEPENDENCY_ERROR', line, module } : { code: 'DEPENDENCY_ERROR', line };
    }
  }
  // 126/127: the command could not be executed at all (shell and setpriv conventions)
  if (exitCode === 126 || exitCode === 127) {
    const line = [...lines].reverse().find((l) => EXEC_FAILED.test(l));
    if (line) return { code: 'PROCESS_SPAWN_ERROR', line };
  }
  return null;
}

/** What the troubleshooting steps may refer to: the child as configured. */
export interface ChildDescription {
  name: string;
  external: boolean;
  /** The executable as configured (`auto` interpreter shown as `python3`). */
  command: string;
  /** Arguments after the command (the script first, for a Python child). */
  args: string[];
  /** Where the command runs. */
  cwd: string;
  script: string | null;
  /** True when `command` is a Python interpreter running `script`. */
  python: boolean;
  requires: string[];
  host: string;
  port: number | null;
  /** Where the child serves HTTP (the hub's gateway proxies to it). */
  url: string;
  healthUrl: string;
}

const quote = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function commandLine(child: ChildDescription): string {
  return [child.command, ...child.args].map(quote).join(' ');
}

function debianPackage(module: string): string {
  return `python3-${module.split('.')[0]!.replace(/_/g, '-').toLowerCase()}`;
}

/**
 * The next commands to run for `code`, most likely first. `details` may name the missing
 * `module` and the `interpreter` that misses it (DEPENDENCY_ERROR), or carry the `cause`
 * code (RESTART_BUDGET_EXHAUSTED).
 */
export function troubleshootingFor(
  code: ChildErrorCode,
  child: ChildDescription,
  details: { module?: string; cause?: ChildErrorCode; interpreter?: string } = {},
): string[] {
  const where = `child "${child.name}" in lifeline.config.json`;
  const run = `run it by hand to see its output: cd ${quote(child.cwd)} && ${commandLine(child)}`;
  const startAgain = `once fixed, start it again: curl -X POST http://127.0.0.1:7070/api/children/${encodeURIComponent(child.name)}/start (the hub's default address)`;
  switch (code) {
    case 'PYTHON_NOT_FOUND':
      return [
        'install Python 3 with Flask: sudo apt-get install -y python3 python3-flask python3-flask-cors',
        `or point "interpreter" of ${where} at an existing python3 (which -a python3)`,
      ];
    case 'COMMAND_NOT_FOUND':
      return [`check that the command exists and is executable: command -v ${quote(child.command)}`, `or fix "command" of ${where}`];
    case 'SCRIPT_NOT_FOUND':
      return [`check the path: ls -l ${quote(child.script ?? '<script>')}`, `fix "script" of ${where} (relative paths start at the configuration file's folder)`];
    case 'DEPENDENCY_ERROR': {
      const modules = details.module ? [details.module] : child.requires;
      const list = modules.length > 0 ? modules.join(', ') : '<module>';
      return [
        `check the import: ${quote(details.interpreter ?? child.command)} -c ${quote(`import ${list}`)}`,
        `install it for that interpreter: sudo apt-get install -y ${modules.length > 0 ? modules.map(debianPackage).join(' ') : 'python3-<module>'} (or pip install into its environment)`,
        `or point "interpreter" of ${where} at a python3 that has it`,
      ];
    }
    case 'PORT_IN_USE':
      return [
        `see which process holds the port: ss -ltnp 'sport = :${child.port ?? '<port>'}'`,
        `stop that process, or change "port" of ${where}`,
      ];
    case 'PROCESS_SPAWN_ERROR':
      return [`check that the command can be executed: ls -l "$(command -v ${quote(child.command)})"`, run];
    case 'PROCESS_CRASH':
      return [run, `follow its transitions: npx lifeline watch 'conn.child.>'`, 'its last stderr lines are in the error details (lifeline watch --json)'];
    case 'HEALTH_CHECK_TIMEOUT':
    case 'HEALTH_CHECK_FAILED':
      return [
        `probe the health URL: curl -sv ${quote(child.healthUrl)}`,
        child.external
          ? `check that the external service is up, or fix "externalUrl" of ${where}`
          : `if it is only slow to start, raise "healthCheckTimeout" / "healthCheckMaxRetries" of ${where}`,
      ];
    case 'RESTART_BUDGET_EXHAUSTED': {
      const cause = details.cause && details.cause !== 'RESTART_BUDGET_EXHAUSTED' ? troubleshootingFor(details.cause, child, details) : [run];
      return [...cause, startAgain];
    }
  }
}
