import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

// The layering the code promises (README "Layout"): cli/ parses and prints and reaches
// behaviour only through host/ and swarm/; host/ is the use-case layer and knows nothing of
// swarm/; drivers know nothing of the layers above them. Type-only imports are free.

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

const src = join(repoRoot, 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of a module: static (`import`/`export ... from`) and dynamic (`import('...')`). */
export function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const from = relative(src, file);
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith('.')) return;
    const to = normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
    edges.push({ from, to, typeOnly });
  };
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) add(m[3]!, Boolean(m[2]));
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) add(m[1]!, false);
  return edges;
}

const top = (path: string) => path.split('/')[0]!;

/** The rules; each broken one is a line naming the importing file and what it imports. */
export function violations(edges: Edge[]): string[] {
  const out: string[] = [];
  const cliMayUse = new Set(['cli', 'host', 'swarm', 'errors.ts', 'version.ts', 'log.ts', 'answer-tap.ts', 'template']);
  for (const e of edges) {
    const [a, b] = [top(e.from), top(e.to)];
    if (a === 'host' && b === 'swarm') out.push(`${e.from} imports ${e.to}: host/ must not know swarm/ (pass a hook instead)`);
    if (a === 'cli' && !e.typeOnly && !cliMayUse.has(b)) out.push(`${e.from} imports ${e.to}: cli/ reaches behaviour only through host/ or swarm/`);
    if (a === 'drivers' && ['cli', 'host', 'swarm'].includes(b)) out.push(`${e.from} imports ${e.to}: drivers must not know the layers above them`);
  }
  return out;
}

describe('layers', () => {
  const edges = files(src).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));

  it('finds the imports it checks (static, dynamic, type-only)', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: 'cli/run.ts', to: 'cli/commands/create.ts', typeOnly: false });
    expect(edges.some((e) => e.typeOnly)).toBe(true);
  });

  it('reports a broken rule by file', () => {
    const bad = [
      ...importsOf(join(src, 'host/x.ts'), "const m = await import('../swarm/cluster.js');"),
      ...importsOf(join(src, 'cli/commands/x.ts'), "import { Store } from '../../store/store.js';\nimport type { Driver } from '../../drivers/driver.js';"),
    ];
    expect(violations(bad)).toEqual([
      'host/x.ts imports swarm/cluster.ts: host/ must not know swarm/ (pass a hook instead)',
      'cli/commands/x.ts imports store/store.ts: cli/ reaches behaviour only through host/ or swarm/',
    ]);
  });

  it('holds for the source tree', () => {
    expect(violations(edges)).toEqual([]);
  });
});

describe('cloud SDKs', () => {
  // Each cloud's SDK is imported by its driver alone (type-only imports are free), so that no
  // other command can load it by accident (README: `env`, `ls`, `config`, `url` stay fast).
  const homes: Record<string, string> = { '@aws-sdk/': 'drivers/amazonec2/', '@azure/': 'drivers/azure/' };
  it('are imported only inside their driver', () => {
    const out: string[] = [];
    for (const file of files(src)) {
      const from = relative(src, file);
      const text = readFileSync(file, 'utf8');
      const specs = [
        ...[...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
      ];
      for (const spec of specs) {
        for (const [prefix, home] of Object.entries(homes)) if (spec.startsWith(prefix) && !from.startsWith(home)) out.push(`${from} imports ${spec}`);
      }
    }
    expect(out).toEqual([]);
  });
});
