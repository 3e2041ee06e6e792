import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { engineAnswers, startDemoEngine, stopDemoEngine } from './engine.js';
import { ENGINE_IMAGE } from '../drivers/docker/flags.js';

// `npm run demo`: a 3-node swarm of docker-driver machines on this machine (or QEMU VMs with
// --driver qemu), then the talk's story on it (story.ts): a service and where it runs, a port
// answering from every node, a scale, a stack with a secret, the routing mesh where the kernel
// allows. Every step is the `machine` or `docker` command a user would type.

const CLI = resolve(__dirname, '..', 'cli', 'main.cjs');
const CLUSTER = 'demo';
const started = Date.now();
const stateDir = join(homedir(), '.cache', 'machine', 'demo-engine');
const cacheDir = join(homedir(), '.cache', 'machine');

function step(text: string): void {
  const secs = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`\n[${secs}s] ${text}\n`);
}

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; quiet?: boolean; input?: string } = {}): Promise<number> {
  if (!opts.quiet) process.stdout.write(`$ ${cmd === process.execPath ? 'machine' : cmd} ${(cmd === process.execPath ? args.slice(1) : args).join(' ')}\n`);
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: [opts.input ? 'pipe' : 'ignore', 'inherit', 'inherit'], env: { ...process.env, ...opts.env } });
    if (opts.input) child.stdin!.end(opts.input);
    child.on('error', rej);
    child.on('exit', (code) => res(code ?? 1));
  });
}

async function must(cmd: string, args: string[], opts: Parameters<typeof sh>[2] = {}): Promise<void> {
  const code = await sh(cmd, args, opts);
  if (code !== 0) throw new Error(`"${cmd === process.execPath ? 'machine' : cmd} ${args.join(' ')}" failed (exit ${code})`);
}

const machine = (args: string[], opts: Parameters<typeof sh>[2] = {}) => must(process.execPath, [CLI, ...args], { ...opts, env: { MACHINE_CACHE_DIR: cacheDir, ...opts.env } });

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function ensurePackages(): Promise<void> {
  const need: string[] = [];
  if (!have('dockerd') || !have('docker')) need.push('docker.io');
  if (!have('debootstrap')) need.push('debootstrap');
  if (!existsSync('/bin/busybox')) need.push('busybox-static');
  if (!need.length) return;
  if (process.getuid?.() !== 0 || !have('apt-get')) {
    throw new Error(`missing ${need.join(', ')}: install them (Debian: apt-get install ${need.join(' ')}) or run the demo as root`);
  }
  step(`Installing ${need.join(', ')} from Debian's packages`);
  await must('apt-get', ['update', '-qq']);
  await must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...need], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
}

/** A busybox image, imported into each node: there is no registry to pull from. */
function tinyImageTar(): string {
  const dir = mkdtempSync(join(tmpdir(), 'machine-demo-'));
  mkdirSync(join(dir, 'root', 'bin'), { recursive: true });
  cpSync('/bin/busybox', join(dir, 'root', 'bin', 'busybox'));
  symlinkSync('busybox', join(dir, 'root', 'bin', 'sh'));
  spawnSync('tar', ['-C', join(dir, 'root'), '-cf', join(dir, 'busybox.tar'), '.']);
  return join(dir, 'busybox.tar');
}

async function clean(): Promise<void> {
  step('Removing the demo swarm and the engine the demo started');
  await sh(process.execPath, [CLI, 'swarm', 'rm', '-y', '-f', CLUSTER]);
  // --driver qemu makes its nodes one by one (the cluster is named after the manager).
  const left = spawnSync(process.execPath, [CLI, 'ls', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.startsWith(`${CLUSTER}-`));
  if (left.length) await sh(process.execPath, [CLI, 'rm', '-y', '-f', ...left]);
  if (stopDemoEngine(stateDir)) process.stdout.write(`Stopped the demo's dockerd (state in ${stateDir})\n`);
  step('Clean.');
}

/** The nodes as machines made them: a docker-driver swarm (seconds), or VMs with their own kernel (--driver qemu). */
async function makeSwarm(driver: string, dockerHost: string): Promise<string[]> {
  if (driver === 'qemu') {
    step('Creating 3 QEMU virtual machines on a private network, then a swarm over it (minutes: VMs boot, the mesh needs their kernels)');
    const net = ['-d', 'qemu', '--qemu-network', 'socket-mcast', '--engine-install-url', 'distro'];
    await machine(['create', ...net, '--qemu-private-address', '10.78.0.11/24', '--swarm-init', `${CLUSTER}-manager-1`]);
    await machine(['create', ...net, '--qemu-private-address', '10.78.0.12/24', '--swarm-join', `${CLUSTER}-manager-1`, `${CLUSTER}-worker-1`]);
    await machine(['create', ...net, '--qemu-private-address', '10.78.0.13/24', '--swarm-join', `${CLUSTER}-manager-1`, `${CLUSTER}-worker-2`]);
  } else {
    // The engine-baked image: one rootfs build (cached), and no node installs an engine,
    // so the three creates cost seconds, not three package installs at once.
    const flags = ['-d', 'docker', '--docker-host', dockerHost, '--docker-image', ENGINE_IMAGE];
    await machine(['image', 'build', 'docker', '--engine', '--docker-host', dockerHost]);
    step('Creating a swarm of 1 manager and 2 workers (machines are created in parallel)');
    await machine(['swarm', 'create', CLUSTER, ...flags, '--managers', '1', '--workers', '2']);
  }
  return [`${CLUSTER}-manager-1`, `${CLUSTER}-worker-1`, `${CLUSTER}-worker-2`];
}

/** `machine env NODE` once per node: every step's script starts from it, with no node start of its own. */
const envOf = new Map<string, string>();
function nodeEnv(node: string): string {
  let env = envOf.get(node);
  if (env === undefined) {
    const r = spawnSync(process.execPath, [CLI, 'env', '--shell', 'bash', node], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`machine env ${node}: ${r.stderr.trim()}`);
    env = r.stdout;
    envOf.set(node, env);
  }
  return env;
}

/** Runs a bash script with the docker CLI pointed at the node; its stdout, or throws with its last line. */
function onNode(node: string, script: string): Promise<string> {
  return new Promise<string>((res, rej) => {
    const child = spawn('bash', ['-c', `set -e\n${nodeEnv(node)}\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`on ${node}: ${err.trim().split('\n').pop() ?? `exit ${code}`}`))));
  });
}

/** The demo swarm answers with 3 nodes, all Ready and Active. */
function swarmReady(): boolean {
  const r = spawnSync(process.execPath, [CLI, 'swarm', 'inspect', CLUSTER], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  const nodes = r.stdout.split('\n').filter((l) => /\bReady\b/.test(l) && /\bActive\b/.test(l));
  return nodes.length === 3;
}

async function main(): Promise<void> {
  if (process.argv.includes('--clean')) return clean();
  const d = process.argv.indexOf('--driver');
  const driver = d >= 0 ? process.argv[d + 1] ?? '' : 'docker';
  if (driver !== 'docker' && driver !== 'qemu') throw new Error(`--driver takes docker or qemu, not "${driver}"`);
  step('Checking for a local Docker engine, the packages and the base image');
  await ensurePackages();
  let dockerHost = process.env.MACHINE_DOCKER_HOST || 'unix:///var/run/docker.sock';
  if (driver === 'docker' && !(await engineAnswers(dockerHost))) {
    if (process.getuid?.() !== 0) throw new Error(`no Docker engine answers at ${dockerHost}: start one, or run the demo as root to let it start its own`);
    step(`No engine answers at ${dockerHost}: starting a dockerd of the demo's own`);
    dockerHost = (await startDemoEngine(stateDir)).host;
    process.stdout.write(`dockerd is up at ${dockerHost}\n`);
  }
  // A second run reuses the swarm of the first when all its nodes are up and in it (the
  // story then clears what it left); anything less is removed and made again.
  const earlier = spawnSync(process.execPath, [CLI, 'ls', '--format', '{{.Name}} {{.DriverName}}'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' '))
    .filter(([n]) => n?.startsWith(`${CLUSTER}-`));
  const reuse = earlier.length === 3 && earlier.every(([, d]) => d === driver) && swarmReady();
  let nodes: string[];
  if (reuse) {
    nodes = [`${CLUSTER}-manager-1`, `${CLUSTER}-worker-1`, `${CLUSTER}-worker-2`];
    step(`Reusing the demo swarm of an earlier run (${nodes.join(', ')}); clearing what its story left`);
    const { resetStory } = await import('./story.js');
    await resetStory({ nodes, onNode });
  } else {
    if (earlier.length) {
      const names = earlier.map(([n]) => n!);
      step(`Removing what is left of the demo swarm of an earlier run (${names.join(', ')})`);
      await Promise.all(names.map((n) => machine(['rm', '-y', '-f', n])));
    }
    nodes = await makeSwarm(driver, dockerHost);
  }

  step('Importing a small busybox image into every node (no registry is needed)');
  const tar = tinyImageTar();
  await Promise.all(
    nodes.map(async (n) => {
      await onNode(n, `docker image inspect demo/busybox:1 >/dev/null 2>&1 || docker import ${tar} demo/busybox:1 >/dev/null`);
      process.stdout.write(`${n}: demo/busybox:1 imported\n`);
    }),
  );
  rmSync(resolve(tar, '..'), { recursive: true, force: true });

  const { tellStory } = await import('./story.js');
  const work = mkdtempSync(join(tmpdir(), 'machine-demo-story-'));
  // VMs talk over their private network; system containers over the local bridge.
  const ipOf = async (node: string) =>
    driver === 'qemu' ? `10.78.0.${11 + nodes.indexOf(node)}` : spawnSync(process.execPath, [CLI, 'ip', node], { encoding: 'utf8' }).stdout.trim();
  await tellStory({
    nodes,
    image: 'demo/busybox:1',
    // System containers share this kernel, which has no IPVS; VMs have their own.
    routingMesh: driver === 'qemu',
    onNode,
    ipOf,
    // From the manager, as a user on the swarm's network would (a VM's address may be private).
    get: (url) => onNode(nodes[0]!, `docker run --rm --network host demo/busybox:1 /bin/busybox wget -qO- ${url}`),
    step,
    show: (text) => process.stdout.write(`${text}\n`),
    workDir: work,
  });
  rmSync(work, { recursive: true, force: true });

  step('The machines');
  await machine(['ls']);

  step('Done.');
  process.stdout.write(
    [
      `Point your docker CLI at the swarm:  eval "$(node ${CLI} env ${nodes[0]})"`,
      `Inspect it:                         node ${CLI} swarm inspect ${CLUSTER}`,
      `Remove everything the demo made:    npm run demo -- --clean`,
      '',
    ].join('\n'),
  );
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exitCode = 1;
});
