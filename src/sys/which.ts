import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A regular file we may execute (a directory or a non-executable file of that name is skipped, as the shell does). */
export function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the shell would find `name`: a path with a slash is taken as it is; otherwise the
 * PATH's folders in order, then `extraDirs` (install folders a tool is known to use).
 */
export function findOnPath(name: string, opts: { extraDirs?: string[]; env?: NodeJS.ProcessEnv } = {}): string | undefined {
  if (name.includes('/') || name.includes('\\')) return isExecutable(name) ? name : undefined;
  const env = opts.env ?? process.env;
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  const dirs = [...(env['PATH'] ?? '').split(delimiter), ...(opts.extraDirs ?? [])].filter(Boolean);
  for (const dir of dirs) {
    for (const n of names) {
      const p = join(dir, n);
      if (isExecutable(p)) return p;
    }
  }
  return undefined;
}
