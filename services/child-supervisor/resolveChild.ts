import { dirname, isAbsolute, resolve } from 'node:path';
import type { ChildDescription } from '../../machines/childProcess.ts';
import type { ChildTiming } from '../../machines/childProcess.ts';
import type { ChildSpec } from './childSpec.ts';

/** A child spec with its paths, URLs and environment worked out: what the supervisor runs. */
export interface ResolvedChild {
  spec: ChildSpec;
  /** What the machine (and its troubleshooting steps) knows of the child. */
  description: ChildDescription;
  /** Absolute path of the script, when it is a Python child. */
  script: string | null;
  cwd: string;
  env: Record<string, string>;
  timing: ChildTiming;
}

/** `0.0.0.0` / `::` listen everywhere; a client reaches them on loopback. */
function connectHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The machine's timing from the spec's options (names as in the configuration file). */
export function timingOf(spec: ChildSpec): ChildTiming {
  return {
    validationRetries: spec.validationRetries,
    validationRetryDelayMs: spec.validationRetryDelay,
    healthCheckIntervalMs: spec.healthCheckInterval,
    healthCheckBackoff: spec.healthCheckBackoff,
    healthCheckMaxIntervalMs: spec.healthCheckMaxInterval,
    healthCheckMaxRetries: spec.healthCheckMaxRetries,
    healthCheckTimeoutMs: spec.healthCheckTimeout,
    healthCheckRequestTimeoutMs: spec.healthCheckRequestTimeout,
    livenessIntervalMs: spec.livenessInterval,
    livenessFailures: spec.livenessFailures,
    restartDelayMs: spec.restartDelay,
    restartMaxDelayMs: spec.restartMaxDelay,
    restartJitter: spec.restartJitter,
    maxRestartAttempts: spec.maxRestartAttempts,
    restartWindowMs: spec.restartWindow,
    stablePeriodMs: spec.stablePeriod,
    shutdownTimeoutMs: spec.shutdownTimeout,
  };
}

/**
 * Resolves a parsed spec against `baseDir` (the configuration file's folder): the script
 * path, the working directory, the base and health URLs, and HOST/PORT for the child.
 */
export function resolveChild(spec: ChildSpec, baseDir: string): ResolvedChild {
  const external = spec.externalUrl !== undefined;
  const script = spec.script ? resolve(baseDir, spec.script) : null;
  const url = external
    ? spec.externalUrl!.replace(/\/+$/, '')
    : spec.port !== undefined
      ? `http://${connectHost(spec.host)}:${spec.port}`
      : new URL(spec.healthUrl!).origin;
  const healthUrl = spec.healthUrl ?? `${url}${spec.healthPath}`;
  const python = script !== null;
  const command = python ? (spec.interpreter === 'auto' ? 'python3' : spec.interpreter) : (spec.command ?? '');
  const cwd = spec.cwd ? resolve(baseDir, spec.cwd) : script ? dirname(script) : baseDir;
  const env: Record<string, string> = { ...spec.env, HOST: spec.host };
  if (spec.port !== undefined) env.PORT = String(spec.port);
  return {
    spec,
    script,
    cwd,
    env,
    timing: timingOf(spec),
    description: {
      name: spec.name,
      external,
      command,
      args: python ? [script!, ...spec.args] : spec.args,
      cwd,
      script,
      python,
      requires: spec.requires,
      host: spec.host,
      port: spec.port ?? null,
      url,
      healthUrl,
    },
  };
}

/** True when `command` names a file (has a slash) rather than something to find on PATH. */
export function isPathLike(command: string): boolean {
  return command.includes('/') || isAbsolute(command);
}
