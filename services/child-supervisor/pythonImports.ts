import { execFile } from 'node:child_process';

export type ImportCheck = { ok: true } | { ok: false; module: string | null; stderr: string[]; message: string };

const CHECK_TIMEOUT_MS = 15_000;

/**
 * Runs `<python> -c "import a, b"` (the dependency check of the pre-flight). On failure,
 * names the module Python could not import and keeps its last stderr lines.
 */
export function checkPythonImports(python: string, modules: readonly string[]): Promise<ImportCheck> {
  if (modules.length === 0) return Promise.resolve({ ok: true });
  return new Promise((resolve) => {
    execFile(python, ['-c', `import ${modules.join(', ')}`], { timeout: CHECK_TIMEOUT_MS, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } }, (err, _stdout, stderrText) => {
      if (!err) return resolve({ ok: true });
      const stderr = String(stderrText).split('\n').filter((l) => l.trim() !== '').slice(-20);
      const named = /No module named '?([A-Za-z0-9_.]+)'?/.exec(stderr.join('\n'));
      const module = named?.[1] ?? null;
      const message = err.killed
        ? `${python} did not finish the import check within ${CHECK_TIMEOUT_MS} ms`
        : module
          ? `${python} cannot import module '${module}' (required: ${modules.join(', ')})`
          : `${python} -c "import ${modules.join(', ')}" failed: ${stderr.at(-1) ?? err.message}`;
      resolve({ ok: false, module, stderr, message });
    });
  });
}
