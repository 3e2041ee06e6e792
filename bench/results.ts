// The bench's rows: every figure of issue #17's table, each with the reference measured in
// the same run and its target. Each bench file records what it measured; the global
// teardown (bench/summary.ts) prints the whole table, rows not measured included, and
// leaves it in bench/results.json so the next run can be compared with this one.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_FILE = join(import.meta.dirname, 'results.json');

export interface Row {
  /** Stable key, for comparing runs. */
  id: string;
  figure: string;
  value: number;
  unit: 'ms' | 's' | 'min' | 'MB' | 'core-s' | 'x';
  /** What the figure is measured against in the same run (bare node, by hand, the CPU floor). */
  reference: { label: string; value: number; unit: string };
  /** value / reference, or the figure itself when it is a ratio already. */
  ratio: number;
  target: string;
  met: boolean;
  /** What stops the target here, when something does (the CPU floor, one TLS call). */
  floor?: { label: string; value: number; unit: string; ratio: number };
  note?: string;
}

export interface Results {
  startedAt: string;
  machine: { cpus: number; node: string };
  rows: Row[];
}

/** The rows the table has, in the issue's order: a row not recorded prints as not measured. */
export const TABLE: Array<{ id: string; figure: string; target: string }> = [
  { id: 'fast-commands', figure: 'env, config, url, ip, active vs bare node -e 0 (worst of the five, asked again)', target: '<= 1.10x (active: of node making its one TCP probe)' },
  { id: 'ls-one', figure: 'ls of one reachable machine vs bare node -e 0', target: '<= 2x (floor: one TLS call)' },
  { id: 'env-memory', figure: 'peak memory of env vs bare node', target: '<= 1.2x' },
  { id: 'ls-500', figure: 'ls of 500 machines, half unreachable', target: '< 1.5 s' },
  { id: 'ls-500-memory', figure: 'ls of 500 machines: peak memory', target: '< 150 MB' },
  { id: 'create-generic', figure: 'create -d generic on an engine-installed host vs by hand', target: '<= 1.3x' },
  { id: 'provision', figure: 'provision vs by hand', target: '<= 1.15x' },
  { id: 'docker-cpu', figure: 'docker driver, CPU per create (engine baked in)', target: '<= 1.3 core-s' },
  { id: 'docker-5-floor', figure: 'docker driver, 5 parallel creates vs the CPU floor', target: '<= 1.10x' },
  { id: 'docker-5-on-4', figure: 'docker driver, 5 parallel creates on 4 cores vs one create (from core-seconds)', target: '<= 1.5x' },
  { id: 'swarm-3', figure: '3-node swarm from nothing (engine baked in) vs one create', target: '<= 1.3x' },
  { id: 'demo-second', figure: 'npm run demo, second run', target: '< 20 s' },
  { id: 'demo-first', figure: 'npm run demo, first run (no caches)', target: '< 5 min' },
  { id: 'npm-test', figure: 'npm ci && npm test from a fresh clone', target: '<= 20 min' },
];

export function readResults(): Results | undefined {
  if (!existsSync(RESULTS_FILE)) return undefined;
  return JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Results;
}

/** Adds (or replaces) a row in this run's results and prints it. Bench files run one at a time. */
export function record(row: Row): void {
  const results = readResults();
  if (!results) throw new Error(`${RESULTS_FILE} is missing: run the bench through "npm run bench"`);
  results.rows = [...results.rows.filter((r) => r.id !== row.id), row];
  writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`${formatRow(row)}\n`);
}

/**
 * A row whose target is a ratio to its reference (by hand, bare node, one create): figure and
 * target come from TABLE, the ratio and whether it is met from the numbers.
 */
export function recordRatio(
  id: string,
  value: number,
  unit: Row['unit'],
  reference: Row['reference'],
  maxRatio: number,
  extra: { note?: string; floor?: { label: string; value: number } } = {},
): void {
  const t = TABLE.find((r) => r.id === id);
  if (!t) throw new Error(`no row ${id} in the bench table`);
  const ratio = value / reference.value;
  const { floor } = extra;
  const note = [extra.note, floor ? `${(value / floor.value).toFixed(2)}x the floor` : ''].filter(Boolean).join('; ');
  record({
    id,
    figure: t.figure,
    value,
    unit,
    reference,
    ratio,
    target: t.target,
    // Where something outside the project stops the target, within 10% of that floor counts.
    met: ratio <= maxRatio || (floor !== undefined && value <= floor.value * 1.1),
    ...(floor ? { floor: { ...floor, unit: reference.unit, ratio: floor.value / reference.value } } : {}),
    ...(note ? { note } : {}),
  });
}

/** A row whose reference is its own target (a time with no "by hand" to compare with). */
export function recordAgainstTarget(id: string, value: number, unit: Row['unit'], limit: number, note: string): void {
  const t = TABLE.find((r) => r.id === id);
  if (!t) throw new Error(`no row ${id} in the bench table`);
  record({
    id,
    figure: t.figure,
    value,
    unit,
    reference: { label: `the ${limit} ${unit} target`, value: limit, unit },
    ratio: value / limit,
    target: t.target,
    // "< 20 s" is strict, "<= 20 min" is not: the table's own sign decides.
    met: t.target.startsWith('<=') ? value <= limit : value < limit,
    note,
  });
}

const num = (v: number, unit: string) => `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;

export function formatRow(row: Row): string {
  const floor = row.floor ? `; floor ${row.floor.label} ${num(row.floor.value, row.floor.unit)} (${row.floor.ratio.toFixed(2)}x)` : '';
  return [
    `  ${row.met ? 'met ' : 'MISS'} ${row.figure}`,
    `       ${num(row.value, row.unit)} vs ${row.reference.label} ${num(row.reference.value, row.reference.unit)} = ${row.ratio.toFixed(2)}x${floor}; target ${row.target}${row.note ? `\n       ${row.note}` : ''}`,
  ].join('\n');
}
