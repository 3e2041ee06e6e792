import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Out {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a program; never throws on a non-zero exit (callers decide). */
export async function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Out> {
  try {
    const child = run(cmd, args, { maxBuffer: 1 << 26, timeout: opts.timeoutMs ?? 600_000 });
    if (opts.input !== undefined) {
      child.child.stdin?.end(opts.input);
    }
    const r = await child;
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number | string };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(err), code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export async function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
