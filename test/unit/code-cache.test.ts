import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cacheName, codeCacheDir } from '../../src/cli/code-cache.js';
import { machine, repoRoot, tempStore } from '../helpers/cli.js';

// The chunks' code cache (src/cli/code-cache.ts), through the built CLI as a user runs it.
// Without the answer cache, which would answer a repeated url without loading any chunk.
process.env.MACHINE_ANSWER_CACHE = '0';

const run = promisify(execFile);

/** The one directory under XDG_CACHE_HOME where this Node keeps the caches. */
const cacheDirIn = (xdg: string) => codeCacheDir({ XDG_CACHE_HOME: xdg })!;

/** The cache files there, and the path of the one for `command`. */
async function cacheFiles(xdg: string, command?: string): Promise<{ names: string[]; file: string }> {
  const names = (await readdir(cacheDirIn(xdg))).sort();
  const mine = names.filter((n) => n.startsWith(`${command}-`));
  return { names, file: join(cacheDirIn(xdg), mine.length === 1 ? mine[0]! : '(none or several)') };
}

/** A cache file's entry lines (`grade length size mtime chunk`), after its format line. */
async function entries(file: string): Promise<string[]> {
  const text = await readFile(file, 'latin1');
  const [format, chunks, ...lines] = text.slice(0, text.indexOf('\n\n')).split('\n');
  expect(format).toBe('machine-code-cache 3');
  expect(chunks).toBe(encodeURIComponent(join(repoRoot, 'dist', 'chunks')));
  return lines;
}
/** The core chunk's entry line. */
const coreEntry = async (file: string) => (await entries(file)).find((l) => / core-[\w-]+\.cjs$/.test(l)) ?? '(no core entry)';

describe('the code cache of our chunks', () => {
  let store: string;
  beforeAll(async () => {
    store = await tempStore('machine-code-cache-');
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'n1'])).code).toBe(0);
  });

  it('is made by the first run of a command and used, unchanged, by the next', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const env = { XDG_CACHE_HOME: xdg };
    const first = await machine(store, ['url', 'n1'], { env });
    expect(first).toMatchObject({ code: 0, stdout: 'tcp://127.0.0.1:9\n' });
    const { names, file } = await cacheFiles(xdg, 'url');
    expect(names).toEqual([expect.stringMatching(/^url-[0-9a-f]{8}\.v8$/)]);
    const made = await stat(file);
    expect(made.mode & 0o777).toBe(0o600);
    expect((await stat(cacheDirIn(xdg))).mode & 0o777).toBe(0o700);
    // It names the chunk it was made from, with its size and mtime, and says the run did the
    // whole command.
    const core = (await readdir(join(repoRoot, 'dist', 'chunks'))).find((f) => f.startsWith('core-'))!;
    const { size, mtimeMs } = await stat(join(repoRoot, 'dist', 'chunks', core));
    expect(await coreEntry(file)).toMatch(new RegExp(`^complete \\d+ ${size} ${mtimeMs} ${core}$`));

    const second = await machine(store, ['url', 'n1'], { env });
    expect(second).toMatchObject({ code: 0, stdout: first.stdout });
    // Written again only when V8 rejects it or it does not match the chunk.
    expect((await stat(file)).mtimeMs).toBe(made.mtimeMs);
  });

  it('never runs old code for a rebuilt chunk of the same length', async () => {
    // V8 checks a cache against its source's length only: the same error with other words of
    // the same length must still print the new words.
    const dist = await mkdtemp(join(tmpdir(), 'machine-dist-'));
    await cp(join(repoRoot, 'dist'), dist, { recursive: true });
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const cli = (args: string[]) =>
      run(process.execPath, [join(dist, 'cli', 'main.cjs'), ...args], { env: { ...process.env, MACHINE_STORAGE_PATH: store, XDG_CACHE_HOME: xdg } }).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
    expect(await cli(['url', 'nosuch'])).toContain('Docker machine "nosuch" does not exist');
    expect((await cacheFiles(xdg, 'url')).names).toHaveLength(1);

    const chunks = join(dist, 'chunks');
    const core = join(chunks, (await readdir(chunks)).find((f) => f.startsWith('core-'))!);
    const before = await readFile(core, 'utf8');
    const after = before.replace('does not exist. Use', 'DOES NOT EXIST. Use');
    expect(after.length).toBe(before.length);
    expect(after).not.toBe(before);
    await writeFile(core, after);
    expect(await cli(['url', 'nosuch'])).toContain('Docker machine "nosuch" DOES NOT EXIST');
  });

  it('made by help or a failure, is made again by the first run that does the work, then kept', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const env = { XDG_CACHE_HOME: xdg };
    expect((await machine(store, ['url', '--help'], { env })).code).toBe(0);
    const { file } = await cacheFiles(xdg, 'url');
    expect(await coreEntry(file)).toMatch(/^partial /);
    expect((await machine(store, ['url', 'nosuch'], { env })).code).toBe(1);
    expect(await coreEntry(file)).toMatch(/^partial /);
    expect((await machine(store, ['url', 'n1'], { env })).stdout).toBe('tcp://127.0.0.1:9\n');
    expect(await coreEntry(file)).toMatch(/^complete /);
    const kept = (await stat(file)).mtimeMs;
    await machine(store, ['url', 'nosuch'], { env });
    await machine(store, ['url', 'n1'], { env });
    expect((await stat(file)).mtimeMs).toBe(kept);
  });

  it('holds the chunks a command loads beyond the core, keeping those a run did not load', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const tmp = await mkdtemp(join(tmpdir(), 'machine-tmp-'));
    // TMPDIR: where Node's own compile cache would go, were it turned on.
    const env = { XDG_CACHE_HOME: xdg, TMPDIR: tmp };
    const plain = await machine(store, ['ls'], { env });
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(plain.stdout).toMatch(/^NAME +ACTIVE +DRIVER +STATE +URL +SWARM +DOCKER +ERRORS\nn1 +- +none +Running +tcp:\/\/127\.0\.0\.1:9 /);
    const { file } = await cacheFiles(xdg, 'ls');
    const chunkOf = (line: string) => line.slice(line.lastIndexOf(' ') + 1).replace(/-[\w-]{8}\.cjs$/, '');
    const first = (await entries(file)).map(chunkOf);
    expect(first).toEqual(expect.arrayContaining(['core', 'ls']));
    expect(first).not.toContain('go-template');
    // Our chunks alone: Node's compile cache (node:module and its ESM loader) stays off.
    expect(await readdir(tmp)).toEqual([]);

    // A run that loads one more chunk (the template engine) adds it and keeps the rest.
    const formatted = await machine(store, ['ls', '--format', '{{.Name}} {{.DriverName}}'], { env });
    expect(formatted).toMatchObject({ code: 0, stdout: 'n1 none\n' });
    const second = (await entries(file)).map(chunkOf);
    expect(second).toEqual(expect.arrayContaining([...first, 'go-template']));
    // A run without it uses what is there and writes nothing.
    const kept = (await stat(file)).mtimeMs;
    expect((await machine(store, ['ls'], { env })).stdout).toBe(plain.stdout);
    expect((await stat(file)).mtimeMs).toBe(kept);
    expect((await entries(file)).map(chunkOf)).toEqual(second);
  });

  it('turns Node\'s compile cache on once a file from node_modules loads', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'machine-tmp-'));
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    // A mistyped command loads the suggestion chunk, which requires fastest-levenshtein.
    const typo = await machine(store, ['lss'], { env: { XDG_CACHE_HOME: xdg, TMPDIR: tmp } });
    expect(typo.stderr).toContain(`'lss' is not a machine command`);
    expect(typo.stderr).toContain('Did you mean "ls"?');
    expect(await readdir(tmp)).toEqual(['node-compile-cache']);
  });

  it('is kept per installation, so that two run in turn do not replace each other', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const dist = await mkdtemp(join(tmpdir(), 'machine-dist-'));
    await cp(join(repoRoot, 'dist'), dist, { recursive: true });
    const env = { ...process.env, MACHINE_STORAGE_PATH: store, XDG_CACHE_HOME: xdg };
    const other = () => run(process.execPath, [join(dist, 'cli', 'main.cjs'), 'url', 'n1'], { env });
    expect((await other()).stdout).toBe('tcp://127.0.0.1:9\n');
    expect((await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).code).toBe(0);
    const { names } = await cacheFiles(xdg);
    expect(names).toHaveLength(2);
    const times = await Promise.all(names.map(async (n) => (await stat(join(cacheDirIn(xdg), n))).mtimeMs));
    await other();
    await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } });
    expect(await Promise.all(names.map(async (n) => (await stat(join(cacheDirIn(xdg), n))).mtimeMs))).toEqual(times);
  });

  it('goes with its installation: a new cache removes those of installations that are gone', async () => {
    // Every copy of machine run from a new place (a clone, an npx directory) adds a file per
    // command, under every Node version it ran with. This copy's path is not Latin-1.
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const dist = await mkdtemp(join(tmpdir(), 'machine-dist-张-'));
    await cp(join(repoRoot, 'dist'), dist, { recursive: true });
    const env = { ...process.env, MACHINE_STORAGE_PATH: store, XDG_CACHE_HOME: xdg };
    expect((await run(process.execPath, [join(dist, 'cli', 'main.cjs'), 'url', 'n1'], { env })).stdout).toBe('tcp://127.0.0.1:9\n');
    const copy = (await cacheFiles(xdg)).names;
    expect(copy).toEqual([expect.stringMatching(/^url-[0-9a-f]{8}\.v8$/)]);
    const header = (await readFile(join(cacheDirIn(xdg), copy[0]!), 'latin1')).split('\n').slice(0, 2);
    expect(header).toEqual(['machine-code-cache 3', encodeURIComponent(join(dist, 'chunks'))]);
    // While the copy is there, another installation's cache leaves its file alone.
    expect((await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).code).toBe(0);
    const both = (await cacheFiles(xdg)).names;
    expect(both).toHaveLength(2);
    expect(both).toContain(copy[0]);
    // An older machine's files, which do not say where they came from: one written lately,
    // one untouched for 40 days; and one under another Node version, of the copy.
    const older = join(cacheDirIn(xdg), 'env-0123abcd.v8');
    const stale = join(cacheDirIn(xdg), 'ls-0123abcd.v8');
    for (const f of [older, stale]) await writeFile(f, 'machine-code-cache 2\ncomplete 1 2 3 core-x.cjs\n\nx');
    const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    await utimes(stale, longAgo, longAgo);
    const otherNode = join(cacheDirIn(xdg), '..', 'v18.20.0-x64');
    await mkdir(otherNode);
    await writeFile(join(otherNode, 'url-0123abcd.v8'), `machine-code-cache 3\n${encodeURIComponent(join(dist, 'chunks'))}\ncomplete 1 2 3 core-x.cjs\n\nx`);
    await rm(dist, { recursive: true });
    // Only writing a cache looks for others to remove: this installation's first ip does.
    expect((await machine(store, ['ip', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).code).toBe(0);
    const left = (await cacheFiles(xdg)).names;
    expect(left).toEqual(['env-0123abcd.v8', expect.stringMatching(/^ip-[0-9a-f]{8}\.v8$/), expect.stringMatching(/^url-[0-9a-f]{8}\.v8$/)]);
    expect(left).not.toContain(copy[0]);
    expect(await readdir(join(cacheDirIn(xdg), '..'))).toEqual([basename(cacheDirIn(xdg))]);
  });

  it('is not written for a mistyped command, nor when NODE_DISABLE_COMPILE_CACHE is set', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const typo = await machine(store, ['urll', 'n1'], { env: { XDG_CACHE_HOME: xdg } });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(`'urll' is not a machine command`);
    const off = await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg, NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(off).toMatchObject({ code: 0, stdout: 'tcp://127.0.0.1:9\n' });
    await expect(readdir(join(xdg, 'machine'))).rejects.toThrow(/ENOENT/);
  });

  it('costs nothing but speed when it cannot be written', async () => {
    // A cache directory under a regular file cannot be made.
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    await writeFile(join(xdg, 'machine'), 'not a directory');
    for (let i = 0; i < 2; i++) {
      expect(await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).toMatchObject({ code: 0, stdout: 'tcp://127.0.0.1:9\n', stderr: '' });
    }
  });

  it('loads our chunks by their names, and a missing one fails with Node\'s own error', async () => {
    // Chunks reach each other without Node's resolver (code-cache.ts): a chunk that is not
    // there must still say which, as a require() would, not surface as a bare ENOENT.
    const dist = await mkdtemp(join(tmpdir(), 'machine-dist-'));
    await cp(join(repoRoot, 'dist'), dist, { recursive: true });
    const env = { ...process.env, MACHINE_STORAGE_PATH: store, XDG_CACHE_HOME: await mkdtemp(join(tmpdir(), 'machine-xdg-')) };
    const cli = (args: string[]) => run(process.execPath, [join(dist, 'cli', 'main.cjs'), ...args], { env }).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);
    // The ls chunk loads the listing's chunks and a package from node_modules (p-limit is bundled; the table is ours).
    expect(await cli(['ls', '-q'])).toMatchObject({ code: 0, stdout: 'n1\n' });
    const ls = (await readdir(join(dist, 'chunks'))).find((f) => /^ls-[\w-]{8}\.cjs$/.test(f))!;
    await rm(join(dist, 'chunks', ls));
    const broken = await cli(['ls', '-q']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`Cannot find module './${ls}'`);
    // The core is still found the same way by the commands that need no more.
    expect(await cli(['url', 'n1'])).toMatchObject({ code: 0, stdout: 'tcp://127.0.0.1:9\n' });
  });

  it('is named for the command, or shared when flags come first', () => {
    expect(cacheName(['env', 'n1'])).toBe('env');
    expect(cacheName(['--debug', 'env', 'n1'])).toBe('_');
    expect(cacheName([])).toBe('_');
    expect(cacheName(['../../etc/passwd'])).toBe('_');
  });

  it('lives per user and per Node version, under XDG_CACHE_HOME when it is absolute', () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe(`/x/cache/machine/v8/${process.version}-${process.arch}`);
    expect(codeCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe(`/home/u/.cache/machine/v8/${process.version}-${process.arch}`);
    // Without HOME, the password database's home, as os.homedir() answers.
    expect(codeCacheDir({})).toBe(join(homedir(), '.cache', 'machine', 'v8', `${process.version}-${process.arch}`));
    expect(codeCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1' })).toBeUndefined();
  });
});
