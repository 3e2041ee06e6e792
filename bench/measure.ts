import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface Cmd {
  label: string;
  cmd: string;
  args: string[];
  /** Variables this command gets beyond the run's. */
  env?: NodeJS.ProcessEnv;
}

export interface Measured {
  ms: number;
  maxRssMb: number;
}

const MAXRSS = join(import.meta.dirname, 'maxrss.cjs');

/**
 * Median wall time and median peak memory of each command, after one warm-up round (fills
 * caches). The commands take turns within every round, so a burst of load elsewhere falls on
 * all of them alike and the ratios hold on a noisy machine. `node` commands get the maxrss
 * preload, which prints their peak memory on exit.
 */
export function interleaved(cmds: Cmd[], rounds: number, env: NodeJS.ProcessEnv = process.env): Map<string, Measured> {
  const times = new Map<string, number[]>(cmds.map((c) => [c.label, []]));
  const rss = new Map<string, number[]>(cmds.map((c) => [c.label, []]));
  for (let round = -1; round < rounds; round++) {
    const order = round % 2 === 0 ? cmds : [...cmds].reverse();
    for (const c of order) {
      const args = c.cmd === process.execPath ? ['-r', MAXRSS, ...c.args] : c.args;
      const t = process.hrtime.bigint();
      const r = spawnSync(c.cmd, args, { env: c.env ? { ...env, ...c.env } : env, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (r.status !== 0) throw new Error(`${c.cmd} ${c.args.join(' ')} failed: ${r.stderr?.toString()}`);
      if (round < 0) continue;
      times.get(c.label)!.push(ms);
      const m = /maxrss_kb=(\d+)/.exec(r.stderr.toString());
      if (m) rss.get(c.label)!.push(Number(m[1]) / 1024);
    }
  }
  const median = (a: number[]) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]! : NaN);
  return new Map(cmds.map((c) => [c.label, { ms: median(times.get(c.label)!), maxRssMb: median(rss.get(c.label)!) }]));
}

export function report(title: string, rows: Array<[string, number, string?]>, reference: number, target?: string): void {
  const lines = [`\n== ${title}`];
  for (const [label, ms, note] of rows) {
    lines.push(`  ${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms  ${(ms / reference).toFixed(2)}x${note ? `  ${note}` : ''}`);
  }
  if (target) lines.push(`  target: ${target}`);
  process.stdout.write(lines.join('\n') + '\n');
}
