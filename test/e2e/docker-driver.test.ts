import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeTinyImageTar } from '../harness/hosts.js';
import { cacheDir } from '../harness/dockerd.js';
import { sh } from '../harness/exec.js';
import { bash, machine, machineCmd, machineInterrupted, tempStore } from '../helpers/cli.js';
import type { StoryContext } from '../../src/demo/story.js';

const skipReason = inject('e2eSkipReason');

describe.skipIf(skipReason)(`docker driver and swarm mode on a real engine${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const network = 'machine-e2e';
  let work: string;
  let store: string;
  let tiny: string;
  const env = () => ({ MACHINE_CACHE_DIR: cacheDir });
  const onEngine = ['-d', 'docker', '--docker-host', dockerHost, '--docker-network', network];
  const dflags = [...onEngine, '--engine-install-url', 'distro'];
  // The engine-baked image, where a test is about what happens after the install: the
  // install itself is the first tests' (and the generic driver's), and each one costs dpkg
  // a minute of this machine's two cores.
  const baked = [...onEngine, '--docker-image', 'machine-host:bookworm-engine'];
  const d = (...args: string[]) => sh('docker', ['-H', dockerHost, ...args]);
  const withEnv = (name: string, script: string) =>
    bash(`set -e; eval "$(${machineCmd(store)} env ${name})"; ${script}`);

  /** This file's volumes: an interrupted earlier run on the same private dockerd leaves them. */
  const removeOurVolumes = async () => {
    const vols = (await d('volume', 'ls', '-q', '--filter', 'label=io.machine.name')).stdout.split('\n').filter((v) => ['machine-dk', 'machine-sw', 'machine-cc', 'machine-cr', 'machine-tk', 'machine-sf'].some((p) => v.startsWith(p)));
    if (vols.length) await d('volume', 'rm', '-f', ...vols);
  };

  beforeAll(async () => {
    await removeOurVolumes();
    work = await tempStore('machine-e2e-docker-');
    store = join(work, 'store');
    tiny = await makeTinyImageTar(cacheDir);
    for (const extra of [[], ['--engine']]) {
      const built = await machine(store, ['image', 'build', 'docker', ...extra, '--docker-host', dockerHost], { env: env() });
      if (built.code !== 0) throw new Error(built.stderr);
    }
  });

  afterAll(async () => {
    // Whatever a failed test left: containers and volumes labelled as ours in this store.
    const left = (await d('ps', '-aq', '--filter', `label=io.machine.store=${store}`)).stdout.split('\n').filter(Boolean);
    if (left.length) await d('rm', '-f', '-v', ...left);
    await removeOurVolumes();
    await d('network', 'rm', network);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('creates two machines in parallel whose engines answer over TLS through env', async () => {
    const [a, b] = await Promise.all([machine(store, ['create', ...dflags, 'dk1'], { env: env() }), machine(store, ['create', ...dflags, 'dk2'], { env: env() })]);
    // Two creates share the network's lock; on a loaded machine the second says it waits.
    const errors = (e: string) => e.replace(/^Waiting for another machine command .*\n/gm, '');
    expect(errors(a.stderr)).toBe('');
    expect(errors(b.stderr)).toBe('');
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    for (const name of ['dk1', 'dk2']) {
      const r = await withEnv(name, `docker info --format '{{.Name}} {{.Driver}}' && docker import ${tiny} tiny:1 >/dev/null && docker run --rm tiny:1 /bin/busybox echo ok-${name}`);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${name} overlay2\nok-${name}\n`);
    }
    const ls = await machine(store, ['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}} {{.DockerVersion}}']);
    expect(ls.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^dk1 docker Running v\d+/), expect.stringMatching(/^dk2 docker Running v\d+/)]);
  });

  it('maps stop, start, restart and kill to the container, and ls follows', async () => {
    const state = async () => (await machine(store, ['status', 'dk2'])).stdout.trim();
    expect((await machine(store, ['stop', 'dk2'])).stdout).toContain('Machine "dk2" was stopped.');
    expect(await state()).toBe('Stopped');
    expect((await d('inspect', '-f', '{{.State.Status}}', 'dk2')).stdout.trim()).toBe('exited');
    expect((await machine(store, ['ls', '-q', '--filter', 'state=Stopped'])).stdout.trim()).toBe('dk2');
    const envStopped = await machine(store, ['env', 'dk2']);
    expect(envStopped.code).toBe(1);
    expect(envStopped.stderr.trim()).toBe('Host is not running');

    // Docker Machine's answers for a machine already in the state asked for.
    const again = await machine(store, ['stop', 'dk2']);
    expect([again.code, again.stderr.trim()]).toEqual([1, 'Machine "dk2" is already stopped.']);

    expect((await machine(store, ['start', 'dk2'])).code).toBe(0);
    expect(await state()).toBe('Running');
    // start returns once the engine answers: the very next docker command works, still on TLS.
    const info = await withEnv('dk2', `docker version --format '{{.Server.Version}}' >/dev/null && docker info --format '{{.Name}}'`);
    expect(info.stderr).toBe('');
    expect(info.stdout.trim()).toBe('dk2');
    const running = await machine(store, ['start', 'dk2']);
    expect([running.code, running.stderr.trim()]).toEqual([1, 'Machine "dk2" is already running.']);

    expect((await machine(store, ['restart', 'dk2'])).code).toBe(0);
    expect(await state()).toBe('Running');
    expect((await withEnv('dk2', `docker version --format '{{.Server.Version}}'`)).code).toBe(0);
    expect((await machine(store, ['kill', 'dk2'])).code).toBe(0);
    expect(await state()).toBe('Stopped');
    const killed = await machine(store, ['kill', 'dk2']);
    expect([killed.code, killed.stderr.trim()]).toEqual([1, 'Machine "dk2" is already stopped.']);
    const rmr = await machine(store, ['rm', '-y', 'dk2']);
    expect(rmr.stdout).toContain('Successfully removed dk2');
    expect((await d('inspect', 'dk2')).code).not.toBe(0);
    expect((await d('volume', 'inspect', 'machine-dk2-docker')).code).not.toBe(0);
    expect(existsSync(join(store, 'machines', 'dk2'))).toBe(false);
  });

  it('a changed SSH host key stops machine ssh in one line naming accept-host-key, which trusts the new key', async () => {
    await d('exec', 'dk1', 'sh', '-c', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh');
    for (const native of [false, true]) {
      const r = await machine(store, [...(native ? ['--native-ssh'] : []), 'ssh', 'dk1', 'true']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/SSH host key for .* changed \(pinned SHA256:\S+, offered SHA256:\S+\): possible man-in-the-middle\. If the host was really reinstalled, run "machine accept-host-key dk1" to trust its new key/);
    }
    const accepted = await machine(store, ['accept-host-key', 'dk1']);
    expect(accepted.stderr).toBe('');
    expect(accepted.stdout.trim()).toMatch(/^Trusted the new SSH host key of "dk1": SHA256:\S+ \(was SHA256:\S+\)$/);
    expect((await machine(store, ['ssh', 'dk1', 'echo', 'ok'])).stdout.trim()).toBe('ok');
    expect((await machine(store, ['--native-ssh', 'ssh', 'dk1', 'echo', 'ok'])).stdout.trim()).toBe('ok');
    expect((await machine(store, ['accept-host-key', 'dk1'])).stdout.trim()).toMatch(/^The SSH host key of "dk1" is unchanged: SHA256:\S+$/);
  });

  it('refuses bad input clearly and leaves nothing behind', async () => {
    const before = (await d('ps', '-aq')).stdout;
    const notManager = await machine(store, ['create', ...dflags, '--swarm-join', 'dk1', 'dkj'], { env: env() });
    expect(notManager.code).toBe(1);
    expect(notManager.stderr).toContain('Machine "dk1" is not a swarm manager');

    const noImage = await machine(store, ['create', ...dflags, '--docker-image', 'nosuch:image', 'dkx'], { env: env() });
    expect(noImage.code).toBe(3);
    expect(noImage.stderr).toContain('Base image "nosuch:image" not found');
    expect(noImage.stderr).toContain('image build docker');

    await d('create', '--name', 'dkclash', 'machine-host:bookworm', 'true');
    const clash = await machine(store, ['create', ...dflags, 'dkclash'], { env: env() });
    await d('rm', '-f', 'dkclash');
    expect(clash.code).toBe(3);
    expect(clash.stderr).toContain('A container named "dkclash" already exists');

    const unreachable = await machine(store, ['create', '-d', 'docker', '--docker-host', `unix://${work}/nothing.sock`, 'dku']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/Cannot reach the Docker engine at unix:\/\/.*nothing\.sock/);

    // scp of what is not there, on either side: one line naming it.
    const noLocal = await machine(store, ['scp', join(work, 'nothing.txt'), 'dk1:/tmp/']);
    expect([noLocal.code, noLocal.stderr.trim()]).toEqual([1, `${join(work, 'nothing.txt')}: no such file or directory`]);
    const noRemote = await machine(store, ['scp', 'dk1:/nonexistent.txt', join(work, 'x.txt')]);
    expect(noRemote.code).toBe(1);
    expect(noRemote.stderr.trim()).toMatch(/^Cannot copy \/nonexistent\.txt from the host: No such file/);
    const noDir = await machine(store, ['scp', 'dk1:/etc/hostname', join(work, 'no', 'such', 'dir', 'x')]);
    expect([noDir.code, noDir.stderr.trim()]).toEqual([1, `Cannot copy to ${join(work, 'no', 'such', 'dir', 'x')}: ${join(work, 'no', 'such', 'dir')} does not exist`]);

    for (const r of [notManager, noImage, clash, unreachable, noLocal, noRemote, noDir]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect((await d('ps', '-aq')).stdout).toBe(before);
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('dk1');
    expect((await machine(store, ['create', '--swarm-master', '-d', 'none', 'old'])).stderr).toMatch(/retired standalone Swarm/);
    expect((await machine(store, ['rm', '-y', 'dk1'])).code).toBe(0);
  });

  it('creates, regenerate-certs --client-certs, provision and rm run together on one store without corrupting it', async () => {
    const create = (name: string) => machine(store, ['create', ...baked, name], { env: env() });
    expect((await create('cr-base')).code).toBe(0);
    let previous: string[] = [];
    for (let round = 0; round < 2; round++) {
      const made = [`cr${round}a`];
      const results = await Promise.all([
        ...made.map(create),
        machine(store, ['regenerate-certs', '--client-certs', '-f', 'cr-base'], { env: env() }),
        machine(store, ['provision', 'cr-base'], { env: env() }),
        ...previous.map((n) => machine(store, ['rm', '-y', n])),
      ]);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      previous = made;
    }
    // The client pair belongs to the CA.
    const v = await sh('openssl', ['verify', '-CAfile', join(store, 'certs', 'ca.pem'), join(store, 'certs', 'cert.pem')]);
    expect(v.stdout.trim()).toBe(`${join(store, 'certs', 'cert.pem')}: OK`);
    // Every machine is whole: once on the current CA (regenerate-certs, as after any new CA), its engine answers.
    const names = (await machine(store, ['ls', '-q'])).stdout.trim().split('\n').filter((n) => n.startsWith('cr'));
    expect(names.sort()).toEqual(['cr-base', 'cr1a']);
    expect((await machine(store, ['regenerate-certs', '-f', ...names], { env: env() })).code).toBe(0);
    for (const n of names) expect((await withEnv(n, `docker info --format '{{.Name}}'`)).stdout.trim()).toBe(n);
    // ... and nothing is left of the removed ones.
    const containers = (await d('ps', '-a', '--format', '{{.Names}}', '--filter', `label=io.machine.store=${store}`)).stdout.trim().split('\n').filter((n) => n.startsWith('cr'));
    expect(containers.sort()).toEqual(names.sort());
    expect((await machine(store, ['rm', '-y', ...names])).code).toBe(0);
  });

  it('Ctrl-C during swarm create of three machines leaves none of them, nor their containers and volumes', async () => {
    // Interrupted while the engines are being provisioned: containers, volumes and records exist by then.
    const r = await machineInterrupted(store, ['swarm', 'create', 'cc', ...dflags, '--managers', '1', '--workers', '2'], {
      env: env(),
      when: /Waiting for SSH to be available/,
    });
    expect(r.signalled).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('Interrupted');
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('');
    expect((await d('ps', '-aq', '--filter', `label=io.machine.store=${store}`)).stdout.trim()).toBe('');
    const vols = (await d('volume', 'ls', '-q')).stdout.split('\n').filter((v) => v.startsWith('machine-cc-'));
    expect(vols).toEqual([]);
    expect(existsSync(join(store, 'machines', 'cc-manager-1'))).toBe(false);
  });

  it("a swarm whose first manager cannot be made leaves no node, and a stranger's container as it was", async () => {
    // Someone else's container holds the first manager's name: its pre-create check fails, so
    // no node is made, and that container is not touched.
    const stranger = (await d('create', '--name', 'sf-manager-1', '--label', 'owner=someone-else', 'machine-host:bookworm', 'true')).stdout.trim();
    try {
      const r = await machine(store, ['swarm', 'create', 'sf', ...baked, '--managers', '1', '--workers', '1'], { env: env() });
      // Docker Machine's exit status for a failed pre-create check.
      expect(r.code).toBe(3);
      // Every node is checked before any is made: the worker never got as far as its container.
      expect(r.stdout).toMatch(/sf-worker-1: Running pre-create checks/);
      expect(r.stdout).not.toMatch(/sf-worker-1: Creating machine/);
      expect(r.stderr.trim().split('\n').pop()).toMatch(/^A container named "sf-manager-1" already exists on .*docker rm -f sf-manager-1"$/);
      expect((await machine(store, ['ls', '-q', '--filter', 'name=^sf-'])).stdout.trim()).toBe('');
      expect(existsSync(join(store, 'machines', 'sf-worker-1'))).toBe(false);
      expect((await d('ps', '-aq', '--filter', `label=io.machine.store=${store}`, '--filter', 'name=sf-')).stdout.trim()).toBe('');
      expect((await d('volume', 'ls', '-q')).stdout.split('\n').filter((v) => v.startsWith('machine-sf-'))).toEqual([]);
      expect((await d('inspect', '--format', '{{.Id}} {{.State.Status}} {{index .Config.Labels "owner"}}', 'sf-manager-1')).stdout.trim()).toBe(`${stranger} created someone-else`);
    } finally {
      await d('rm', '-f', 'sf-manager-1');
    }
  });

  it('forms a 3-node swarm, runs services across it, deploys a stack, and drops a removed worker', async () => {
    const created = await machine(store, ['swarm', 'create', 'sw', ...baked, '--managers', '1', '--workers', '2'], { env: env() });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const nodes = ['sw-manager-1', 'sw-worker-1', 'sw-worker-2'];
    for (const n of nodes) {
      const r = await withEnv(n, `docker import ${tiny} tiny:1 >/dev/null`);
      expect(r.code).toBe(0);
    }
    const ls = await machine(store, ['ls', '--format', '{{.Name}} {{.Swarm}}']);
    expect(ls.stdout.trim().split('\n')).toEqual(['sw-manager-1 sw (manager)', 'sw-worker-1 sw (worker)', 'sw-worker-2 sw (worker)']);
    const list = await machine(store, ['swarm', 'ls']);
    expect(list.stdout).toMatch(/^sw\s+1\s+2\s+sw-manager-1,sw-worker-1,sw-worker-2$/m);

    // Through a worker's --swarm env the client still reaches a manager.
    const svc = await withEnv(
      'sw-worker-1 --swarm',
      `docker service create -d --name spread --replicas 6 tiny:1 /bin/busybox sleep 3600 >/dev/null
       for i in $(seq 120); do [ "$(docker service ps spread --filter desired-state=running --format '{{.CurrentState}}' | grep -c Running)" = 6 ] && break; sleep 1; done
       docker service ps spread --filter desired-state=running --format '{{.Node}}' | sort -u`,
    );
    // stderr carries docker's note that tiny:1 is not in a registry: there is none here.
    expect(svc.stdout.trim().split('\n')).toEqual(nodes);

    await writeFile(join(work, 'stack.yml'), 'version: "3.8"\nservices:\n  web:\n    image: tiny:1\n    command: ["/bin/busybox", "sleep", "3600"]\n    deploy:\n      replicas: 3\n');
    const stack = await withEnv(
      'sw-manager-1',
      `docker stack deploy -c ${join(work, 'stack.yml')} demo >/dev/null
       for i in $(seq 120); do [ "$(docker service ls --filter name=demo_web --format '{{.Replicas}}')" = "3/3" ] && break; sleep 1; done
       docker service ls --filter name=demo_web --format '{{.Name}} {{.Replicas}}'`,
    );
    expect(stack.stdout.trim()).toBe('demo_web 3/3');

    // The demo's story (src/demo/story.ts), step by step, on this swarm of system containers:
    // no IPVS in the shared kernel, so its port is published in host mode (qemu.test.ts runs the mesh).
    const { tellStory, resetStory, GREETING } = await import('../../src/demo/story.js');
    const storyDir = join(work, 'story');
    await mkdir(storyDir, { recursive: true });
    const story: StoryContext = {
      nodes,
      image: 'tiny:1',
      routingMesh: false,
      onNode: async (node, script) => {
        const r = await withEnv(node, script);
        if (r.code !== 0) throw new Error(`on ${node}: ${script}: ${r.stderr}`);
        return r.stdout;
      },
      ipOf: async (node) => (await machine(store, ['ip', node])).stdout.trim(),
      get: async (url) => (await fetch(url)).text(),
      step: () => undefined,
      show: () => undefined,
      workDir: storyDir,
    };
    const told = await tellStory(story);
    expect(told.publish).toBe('host');
    expect(told.placement).toEqual(Object.fromEntries(nodes.map((n) => [n, 1])));
    // Every node's port answers, with the node that served it.
    expect(told.answers).toEqual(Object.fromEntries(nodes.map((n) => [n, n])));
    expect(Object.values(told.scaled).reduce((a, b) => a + b, 0)).toBe(6);
    expect(told.secret).toBe(GREETING);
    const limits = await withEnv('sw-manager-1', `docker service inspect demo_app --format '{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}} {{.Spec.TaskTemplate.RestartPolicy.Condition}}'`);
    expect(limits.stdout.trim()).toBe(`${64 * 1024 * 1024} on-failure`);
    // Told again on the same swarm, as a second `npm run demo` does once resetStory has
    // cleared the first telling (its services, stack, secret, network and replicas).
    await resetStory(story);
    // The story's services, stack, secret and network are gone, and so are their replicas;
    // the swarm's other service ("spread") is left alone.
    const left = await withEnv('sw-manager-1', `docker service ls --format '{{.Name}}'; docker secret ls -q; docker network ls -q --filter label=com.docker.stack.namespace=demo`);
    expect(left.stdout.trim()).toBe('spread');
    for (const n of nodes) {
      const running = await withEnv(n, `docker ps -a --filter label=com.docker.swarm.task --format '{{.Label "com.docker.swarm.service.name"}}' | grep -v '^spread$' || true`);
      expect(running.stdout.trim()).toBe('');
    }
    const again = await tellStory(story);
    expect(again.placement).toEqual(told.placement);
    expect(again.answers).toEqual(told.answers);
    expect(Object.values(again.scaled).reduce((a, b) => a + b, 0)).toBe(6);
    expect(again.secret).toBe(GREETING);

    const inspect = await machine(store, ['swarm', 'inspect', 'sw']);
    expect(inspect.stdout).toMatch(/sw-worker-2\s+worker\s+docker\s+Running/);
    expect(inspect.stdout).toMatch(/sw-worker-2\s+Ready\s+Active/);

    expect((await machine(store, ['rm', '-y', 'sw-worker-2'])).code).toBe(0);
    const after = await withEnv('sw-manager-1', `docker node ls --format '{{.Hostname}} {{.Status}}'`);
    expect(after.stdout).not.toMatch(/sw-worker-2 Ready/);

    const gone = await machine(store, ['swarm', 'rm', '-y', 'sw']);
    expect(gone.code).toBe(0);
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('');
    expect((await d('ps', '-aq', '--filter', `label=io.machine.store=${store}`)).stdout.trim()).toBe('');
  });

  it('swarm create --debug shows the init and join commands but never a join token (engine-baked image: each engine starts once, with TLS, and at every boot)', async () => {
    // The image the demo uses (built in beforeAll): the engine is installed and held back
    // until provisioning has put its TLS certificate in place.
    const created = await machine(store, ['--debug', 'swarm', 'create', 'tk', ...baked, '--managers', '1', '--workers', '1'], { env: env() });
    expect(created.code).toBe(0);
    // The image carries the engine's configuration a default machine gets: provisioning writes
    // only the certificates and starts the engine, with no systemd reload (a tenth of a
    // core-second each) and no start counter to clear on an engine that never started.
    const applied = created.stderr.split('\n').filter((l) => l.includes('applying:'));
    expect(applied).toHaveLength(2);
    for (const line of applied) {
      expect(line).toMatch(/server-key\.pem; systemctl restart docker\.service$/);
      expect(line).not.toMatch(/10-machine\.conf|daemon-reload|reset-failed/);
    }
    // Each create checks its engine with GET /_ping over TLS, as the docker CLI's first call
    // does: GET /version would make the engine run runc and docker-init for their versions.
    const checks = created.stderr.split('\n').filter((l) => l.includes('engine-api: GET'));
    expect(checks).toHaveLength(2);
    for (const line of checks) expect(line).toMatch(/engine-api: GET tcp:\/\/[\d.]+:2376\/_ping -> 200 /);
    for (const node of ['tk-manager-1', 'tk-worker-1']) {
      const unit = await d('exec', node, 'sh', '-c', "systemctl is-enabled docker.service; journalctl -u docker.service --no-pager | grep -c 'Starting docker.service'");
      expect(unit.stdout.trim().split('\n')).toEqual(['enabled', '1']);
    }
    // An image from before the key came through the container's environment (no label) gets
    // it as an archive, as then: the machine is reachable all the same.
    const plain = (await d('create', 'machine-host:bookworm-engine')).stdout.trim();
    try {
      expect((await d('commit', '--change', 'LABEL io.machine.key-from-env=', plain, 'machine-host:no-key-label')).code).toBe(0);
      const old = await machine(store, ['create', ...baked.slice(0, -1), 'machine-host:no-key-label', 'tk-old'], { env: env() });
      expect(old.stderr).toBe('');
      expect((await machine(store, ['ssh', 'tk-old', 'true'])).code).toBe(0);
      expect((await d('exec', 'tk-old', 'printenv', 'MACHINE_AUTHORIZED_KEY')).stdout).toBe('');
      expect((await d('exec', 'tk-worker-1', 'printenv', 'MACHINE_AUTHORIZED_KEY')).stdout).toMatch(/^ssh-/);
      expect((await machine(store, ['rm', '-y', 'tk-old'])).code).toBe(0);
    } finally {
      // Also when an assertion failed: the tests after this one expect no tk-old.
      if ((await machine(store, ['ls', '-q'])).stdout.split('\n').includes('tk-old')) await machine(store, ['rm', '-f', '-y', 'tk-old']);
      await d('rm', '-f', plain);
      await d('rmi', 'machine-host:no-key-label');
    }
    // After a reboot the engine comes back by itself, on TLS.
    expect((await machine(store, ['restart', 'tk-worker-1'])).code).toBe(0);
    expect((await withEnv('tk-worker-1', "docker info --format '{{.Swarm.LocalNodeState}}'")).stdout.trim()).toBe('active');
    expect(created.stderr).toMatch(/docker swarm init --advertise-addr/);
    expect(created.stderr).toMatch(/docker swarm join --token "\$t"/);
    const token = (await withEnv('tk-manager-1', 'docker swarm join-token -q worker')).stdout.trim();
    expect(token).toMatch(/^SWMTKN-/);
    expect(created.stdout + created.stderr).not.toContain('SWMTKN-');
    const nodes = await withEnv('tk-manager-1', `docker node ls --format '{{.Hostname}} {{.Status}}'`);
    expect(nodes.stdout.trim().split('\n').sort()).toEqual(['tk-manager-1 Ready', 'tk-worker-1 Ready']);
    expect((await machine(store, ['swarm', 'rm', '-y', 'tk'])).code).toBe(0);
  });
});
