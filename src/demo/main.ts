import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { engineAnswers, startDemoEngine, stopDemoEngine } from './engine.js';

// `npm run demo`: a 3-node swarm of docker-driver machines on this machine, a stack on it,
// and where its replicas run. Every step is the `machine` or `docker` command a user would
// type, printed before it runs.

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
  if (stopDemoEngine(stateDir)) process.stdout.write(`Stopped the demo's dockerd (state in ${stateDir})\n`);
  step('Clean.');
}

async function main(): Promise<void> {
  if (process.argv.includes('--clean')) return clean();
  step('Checking for a local Docker engine, the packages and the base image');
  await ensurePackages();
  let dockerHost = process.env.MACHINE_DOCKER_HOST || 'unix:///var/run/docker.sock';
  if (!(await engineAnswers(dockerHost))) {
    if (process.getuid?.() !== 0) throw new Error(`no Docker engine answers at ${dockerHost}: start one, or run the demo as root to let it start its own`);
    step(`No engine answers at ${dockerHost}: starting a dockerd of the demo's own`);
    dockerHost = (await startDemoEngine(stateDir)).host;
    process.stdout.write(`dockerd is up at ${dockerHost}\n`);
  }
  const flags = ['-d', 'docker', '--docker-host', dockerHost, '--engine-install-url', 'distro'];
  await machine(['image', 'build', 'docker', '--docker-host', dockerHost]);

  step('Creating a swarm of 1 manager and 2 workers (machines are created in parallel)');
  await machine(['swarm', 'create', CLUSTER, ...flags, '--managers', '1', '--workers', '2']);
  const nodes = [`${CLUSTER}-manager-1`, `${CLUSTER}-worker-1`, `${CLUSTER}-worker-2`];

  step('Importing a small busybox image into every node (no registry is needed)');
  const tar = tinyImageTar();
  for (const n of nodes) {
    await must('bash', ['-c', `eval "$(${process.execPath} ${CLI} env ${n})" && docker import ${tar} demo/busybox:1 >/dev/null && echo "${n}: demo/busybox:1 imported"`], { quiet: true });
  }
  rmSync(resolve(tar, '..'), { recursive: true, force: true });

  step('Deploying a stack with 3 replicas through `machine env`');
  const compose = join(tmpdir(), 'machine-demo-stack.yml');
  writeFileSync(
    compose,
    'version: "3.8"\nservices:\n  web:\n    image: demo/busybox:1\n    command: ["/bin/busybox", "httpd", "-f", "-p", "8080"]\n    deploy:\n      replicas: 3\n      placement:\n        max_replicas_per_node: 1\n',
  );
  const envOf = `eval "$(${process.execPath} ${CLI} env ${nodes[0]})"`;
  process.stdout.write(`$ eval "$(machine env ${nodes[0]})"\n$ docker stack deploy -c ${compose} demo\n`);
  await must('bash', ['-c', `${envOf} && docker stack deploy --detach=true -c ${compose} demo 2>&1 | grep -v 'could not be accessed on a registry'; exit \${PIPESTATUS[0]}`], { quiet: true });
  await must('bash', ['-c', `${envOf} && for i in $(seq 120); do case "$(docker service ls --filter name=demo_web --format '{{.Replicas}}')" in 3/3*) break;; esac; sleep 1; done`], { quiet: true });

  step('The machines');
  await machine(['ls']);
  step('Where the replicas run');
  process.stdout.write(`$ docker service ps demo_web\n`);
  await must('bash', ['-c', `${envOf} && docker service ps demo_web --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}'`], { quiet: true });

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
