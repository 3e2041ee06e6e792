import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.cjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the compiled CLI as a user would, against the given store. */
export function machine(
  store: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return machineSpawn(store, args, opts).done;
}

export async function tempStore(prefix = 'machine-store-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Runs a shell snippet (bash) with env, as a user pasting `eval "$(machine env X)"` would. */
export function bash(script: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The CLI invocation for use inside bash snippets. */
export function machineCmd(store: string): string {
  return `MACHINE_STORAGE_PATH=${store} ${process.execPath} ${cliPath}`;
}

/**
 * Runs the CLI and sends it a signal (as Ctrl-C would) once its output matches `when`;
 * resolves when it exits. `signalled` says whether the moment came before the exit.
 */
export function machineInterrupted(
  store: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; when: RegExp; signal?: NodeJS.Signals; timeoutMs?: number },
): Promise<CliResult & { signalled: boolean }> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, MACHINE_STORAGE_PATH: store, MACHINE_DEBUG: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const check = () => {
      if (!signalled && opts.when.test(stdout + stderr)) {
        signalled = true;
        child.kill(opts.signal ?? 'SIGINT');
      }
    };
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), check()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), check()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr, ms: Date.now() - started, signalled });
    });
  });
}

/**
 * Starts the CLI and hands back the child, for tests that kill it at a moment they choose
 * (kill -9 mid-call); `done` resolves when it exits.
 */
export function machineSpawn(
  store: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {},
): { child: import('node:child_process').ChildProcessWithoutNullStreams; done: Promise<CliResult> } {
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, MACHINE_STORAGE_PATH: store, MACHINE_DEBUG: '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A command that exits without reading its input (most do; the fast ones exit within
  // milliseconds) closes the pipe under a pending write: EPIPE is then the expected end, and
  // unheard it was an uncaught exception in the test run.
  child.stdin.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  child.stdin.end(opts.input ?? '');
  const done = new Promise<CliResult>((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal === 'SIGKILL' ? 137 : -1), stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, done };
}
