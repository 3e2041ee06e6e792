// Global setup of `npm run bench`: starts this run's results file and, at the end, prints
// every row of the table (bench/results.ts), with the rows this run did not measure.
import { cpus } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../test/harness/dockerd.js';
import { RESULTS_FILE, TABLE, formatRow, readResults, recordAgainstTarget, type Results } from './results.js';

/**
 * The suite's time is not measured here (it takes the machine for a quarter of an hour): the
 * test harness records its last whole run, and the table shows that, with its date.
 */
function recordLastTestRun(): void {
  const file = join(cacheDir, 'last-test-run.json');
  if (!existsSync(file)) return;
  const last = JSON.parse(readFileSync(file, 'utf8')) as { finishedAt: string; seconds: number; files: number };
  recordAgainstTarget('npm-test', last.seconds / 60, 'min', 20,
    `the last whole npm test on this machine (${last.files} files, finished ${last.finishedAt}); its vitest part, without npm ci and the build`,
  );
}

export default function setup(): () => void {
  const fresh: Results = { startedAt: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version }, rows: [] };
  writeFileSync(RESULTS_FILE, JSON.stringify(fresh, null, 2) + '\n');
  return () => {
    recordLastTestRun();
    const results = readResults();
    const lines = [`\n== #17 table (${results?.machine.cpus} cores, node ${results?.machine.node}; also in bench/results.json)`];
    for (const t of TABLE) {
      const row = results?.rows.find((r) => r.id === t.id);
      lines.push(row ? formatRow(row) : `  ---- ${t.figure}\n       not measured in this run; target ${t.target}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  };
}
