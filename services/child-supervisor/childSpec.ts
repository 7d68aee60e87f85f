import { z } from 'zod';

const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);
const positive = (fallback: number) => z.number().int().positive().default(fallback);

/** Python module names as `import` accepts them (`flask`, `flask_cors`, `yaml.cyaml`). */
const pythonModule = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a Python module name such as flask_cors');

/**
 * One supervised child process in lifeline.config.json (`children: [...]`): an OTP-style
 * child spec. Either a Python `script` (run by `interpreter`), any `command` with `args`
 * (e.g. a nats-server), or an `externalUrl` that is only health checked. Durations are in
 * milliseconds. Every option has a default except what names the child and what it runs.
 */
export const childSpecSchema = z
  .strictObject({
    /** The child's id: `conn.child.<name>.…`, `/api/children/<name>`. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "-" and "_" (at most 64), starting with a letter or digit'),

    /** A Python script, run as `<interpreter> <script> <args…>`; relative to the configuration file's folder. */
    script: z.string().min(1).optional(),
    /** `auto`: /usr/bin/python3, then each python3 on PATH: the first that can import `requires`. */
    interpreter: z.string().min(1).default('auto'),
    /** Any other executable (instead of `script`), run as `<command> <args…>`. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** Working directory; default: the script's folder, else the configuration file's. */
    cwd: z.string().min(1).optional(),
    /** Extra environment; the child also gets HOST and PORT from this spec. */
    env: z.record(z.string(), z.string()).default({}),
    /** Python modules the pre-flight imports before spawning (`DEPENDENCY_ERROR` names the missing one). */
    requires: z.array(pythonModule).default([]),

    /** Where the child listens: checked free before spawning, passed as HOST/PORT. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65_535).optional(),
    healthPath: z.string().startsWith('/').default('/health'),
    /** Default: http://<host>:<port><healthPath> (or <externalUrl><healthPath>). */
    healthUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** External mode: nothing is spawned; the service at this URL is health checked and proxied. */
    externalUrl: z.url({ protocol: /^https?$/ }).optional(),

    validationRetries: z.number().int().nonnegative().default(2),
    validationRetryDelay: ms(1_000),
    /** First wait after the spawn before a health check; then × healthCheckBackoff, at most healthCheckMaxInterval. */
    healthCheckInterval: positive(500),
    healthCheckBackoff: z.number().min(1).max(10).default(1.2),
    healthCheckMaxInterval: positive(2_000),
    healthCheckMaxRetries: positive(20),
    /** Spawn → healthy, at most. */
    healthCheckTimeout: positive(30_000),
    /** One health request, at most. */
    healthCheckRequestTimeout: positive(2_000),
    /** While ready: a health check this often (0: none); livenessFailures in a row restart the child. */
    livenessInterval: ms(10_000),
    livenessFailures: positive(3),

    autoRestart: z.boolean().default(true),
    /** MaxR restarts within restartWindow (MaxT); one more escalates to `failed`. */
    maxRestartAttempts: z.number().int().nonnegative().default(3),
    restartWindow: positive(60_000),
    /** First restart delay; doubles per consecutive restart up to restartMaxDelay, ± restartJitter. */
    restartDelay: ms(2_000),
    restartMaxDelay: ms(30_000),
    restartJitter: z.number().min(0).max(1).default(0.1),
    /** Ready this long resets the consecutive-restart count (the backoff). */
    stablePeriod: ms(30_000),
    /** SIGTERM, then SIGKILL after this long. */
    shutdownTimeout: ms(5_000),
    /** stderr lines kept for the error details. */
    stderrLines: positive(50),
  })
  .superRefine((spec, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (spec.externalUrl) {
      if (spec.script || spec.command) issue('externalUrl', 'an external child runs nothing: remove "script" / "command"');
      return;
    }
    if (spec.script && spec.command) issue('command', 'give either "script" (run by "interpreter") or "command", not both');
    if (!spec.script && !spec.command) issue('script', 'say what to run: "script" (a Python file), "command", or "externalUrl"');
    if (spec.command && spec.requires.length > 0) issue('requires', '"requires" lists Python modules: it needs "script"');
    if (spec.port === undefined && !spec.healthUrl) issue('port', 'give "port" (or a "healthUrl") so the child can be health checked');
    if (spec.restartMaxDelay < spec.restartDelay) issue('restartMaxDelay', 'must be at least "restartDelay"');
  });

export type ChildSpec = z.infer<typeof childSpecSchema>;
