import { spawnSync } from 'node:child_process';

/** Median wall time of a command over n runs, after one warm-up run (fills caches). */
export function medianMs(cmd: string, args: string[], n: number, env: NodeJS.ProcessEnv = process.env): number {
  spawnSync(cmd, args, { env, stdio: 'ignore' });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function report(title: string, rows: Array<[string, number, string?]>, reference: number, target?: string): void {
  const lines = [`\n== ${title}`];
  for (const [label, ms, note] of rows) {
    lines.push(`  ${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms  ${(ms / reference).toFixed(2)}x${note ? `  ${note}` : ''}`);
  }
  if (target) lines.push(`  target: ${target}`);
  process.stdout.write(lines.join('\n') + '\n');
}
