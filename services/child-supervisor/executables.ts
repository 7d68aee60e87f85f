import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { isPathLike } from './resolveChild.ts';

/** A regular file this process may read (`R_OK`) or execute (`X_OK`). */
export async function isFileWithAccess(path: string, mode: number): Promise<boolean> {
  try {
    await access(path, mode);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

const isExecutableFile = (path: string): Promise<boolean> => isFileWithAccess(path, constants.X_OK);

/** Every executable `name` on PATH, in PATH order (like `which -a`); a path is checked as is. */
export async function findExecutables(name: string, path: string = process.env.PATH ?? ''): Promise<string[]> {
  if (isPathLike(name)) return (await isExecutableFile(resolve(name))) ? [resolve(name)] : [];
  const found: string[] = [];
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (!found.includes(candidate) && (await isExecutableFile(candidate))) found.push(candidate);
  }
  return found;
}

export async function findExecutable(name: string, path?: string): Promise<string | null> {
  return (await findExecutables(name, path))[0] ?? null;
}
