import { constants } from 'node:fs';
import type { PreflightResult } from '../../machines/childProcess.ts';
import { findExecutable, findExecutables, isFileWithAccess } from './executables.ts';
import { checkPortFree } from './portCheck.ts';
import { checkPythonImports, type ImportCheck } from './pythonImports.ts';
import type { ResolvedChild } from './resolveChild.ts';

/** Where `interpreter: "auto"` looks first: Debian's python3, which python3-flask installs into. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * `auto`: /usr/bin/python3 first (where `apt-get install python3-flask` puts Flask, so a
 * pyenv or venv shim earlier on PATH does not shadow it), then every python3 on PATH; the
 * first that imports `requires` wins. When none does, the first one found is returned
 * with its failed import check.
 */
async function pickPython(child: ResolvedChild): Promise<{ python: string; imports: ImportCheck; tried: string[] } | null> {
  const configured = child.spec.interpreter;
  const candidates = configured === 'auto' ? [SYSTEM_PYTHON, ...(await findExecutables('python3'))] : [configured];
  let first: { python: string; imports: ImportCheck } | null = null;
  const tried: string[] = [];
  for (const candidate of [...new Set(candidates)]) {
    const python = await findExecutable(candidate);
    if (!python || tried.includes(python)) continue;
    tried.push(python);
    const imports = await checkPythonImports(python, child.spec.requires);
    if (imports.ok) return { python, imports, tried };
    first ??= { python, imports };
  }
  return first && { ...first, tried };
}


/**
 * The pre-flight of a spawned child, cheapest check first: the interpreter or command
 * exists, the script exists, the required modules import, the port is free. Never throws.
 */
export async function runPreflight(child: ResolvedChild): Promise<PreflightResult> {
  const { spec, description } = child;
  let command: string;
  if (description.python) {
    const picked = await pickPython(child);
    if (!picked) {
      const where = spec.interpreter === 'auto' ? `${SYSTEM_PYTHON} or python3 on PATH` : spec.interpreter;
      return { ok: false, code: 'PYTHON_NOT_FOUND', message: `no Python interpreter found (looked for ${where})`, details: { interpreter: spec.interpreter } };
    }
    if (!(await isFileWithAccess(child.script!, constants.R_OK))) {
      return { ok: false, code: 'SCRIPT_NOT_FOUND', message: `script ${child.script} does not exist or cannot be read`, details: { script: child.script } };
    }
    if (!picked.imports.ok) {
      const failed = picked.imports;
      const others = picked.tried.length > 1 ? ` (nor can ${picked.tried.slice(1).join(', ')})` : '';
      return {
        ok: false,
        code: 'DEPENDENCY_ERROR',
        message: `${failed.message}${others}`,
        details: { interpreter: picked.python, tried: picked.tried, ...(failed.module ? { module: failed.module } : {}), stderr: failed.stderr },
      };
    }
    command = picked.python;
  } else {
    const found = await findExecutable(description.command);
    if (!found) {
      return { ok: false, code: 'COMMAND_NOT_FOUND', message: `command ${description.command} not found or not executable`, details: { command: description.command } };
    }
    command = found;
  }
  if (spec.port !== undefined) {
    const port = await checkPortFree(spec.host, spec.port);
    if (!port.free) {
      return {
        ok: false,
        code: 'PORT_IN_USE',
        message: `port ${spec.port} on ${spec.host} is not free (${port.errno}); ${spec.name} could not listen on it`,
        details: { host: spec.host, port: spec.port, errno: port.errno },
      };
    }
  }
  return { ok: true, command, args: description.args };
}
