import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { createTestHost, makeTestKey, type TestHost } from '../test/harness/hosts.js';
import { cliPath, machine, tempStore } from '../test/helpers/cli.js';
import { medianMs, report } from './measure.js';

const skipReason = inject('e2eSkipReason');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

describe.skipIf(skipReason)('benchmarks', () => {
  let host: TestHost;
  let work: string;
  let key: string;
  let sshStandIn: Server;

  beforeAll(async () => {
    work = await tempStore('machine-bench-');
    key = await makeTestKey(work);
    host = await createTestHost({ dockerHost: inject('dockerHost'), image: inject('hostImage'), name: 'bench-host', keyPath: key });
    const install = await host.exec('export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null');
    if (install.code !== 0) throw new Error(`installing docker.io on the bench host failed: ${install.stderr}`);
  });

  afterAll(async () => {
    sshStandIn?.close();
    await host?.remove();
  });

  const resetHost = () =>
    host.exec('rm -rf /etc/systemd/system/docker.service.d /etc/docker/*.pem && systemctl daemon-reload && systemctl restart docker');

  it('provisioning an engine-installed host, against the same steps by hand over one SSH connection', async () => {
    const ours: number[] = [];
    const created: number[] = [];
    const byHand: number[] = [];
    for (let i = 0; i < 3; i++) {
      await resetHost();
      const store = join(work, `prov-${i}`);
      const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', key, '--engine-install-url', 'none', `p${i}`]);
      if (r.code !== 0) throw new Error(r.stderr);
      created.push(r.ms);
      // The same steps as by hand: certificates exist, the host has neither them nor the drop-in.
      await resetHost();
      const p = await machine(store, ['provision', `p${i}`]);
      if (p.code !== 0) throw new Error(p.stderr);
      ours.push(p.ms);

      // By hand: the same files, drop-in, restart and first TLS call, one ssh session.
      const dropIn = (await host.exec('cat /etc/systemd/system/docker.service.d/10-machine.conf')).stdout;
      await resetHost();
      const dir = join(store, 'machines', `p${i}`);
      const [ca, cert, srvKey] = await Promise.all(['ca.pem', 'server.pem', 'server-key.pem'].map((f) => readFile(join(dir, f), 'utf8')));
      const script = [
        'set -e',
        'mkdir -p /etc/docker /etc/systemd/system/docker.service.d',
        `cat > /etc/docker/ca.pem <<'X'\n${ca}X`,
        `cat > /etc/docker/server.pem <<'X'\n${cert}X`,
        `umask 077; cat > /etc/docker/server-key.pem <<'X'\n${srvKey}X`,
        `cat > /etc/systemd/system/docker.service.d/10-machine.conf <<'X'\n${dropIn}X`,
        'systemctl daemon-reload && systemctl restart docker',
      ].join('\n');
      const t = Date.now();
      execFileSync('ssh', ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=quiet', '-i', key, `root@${host.ip}`, 'bash -s'], { input: script });
      for (;;) {
        const v = spawnSync('docker', ['--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '--tlscert', join(dir, 'cert.pem'), '--tlskey', join(dir, 'key.pem'), '-H', `tcp://${host.ip}:2376`, 'version', '--format', '{{.Server.Version}}'], { stdio: 'ignore' });
        if (v.status === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      byHand.push(Date.now() - t);
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[1]!;
    report('provisioning (engine already installed), median of 3', [
      ['by hand: one ssh session + first TLS call', med(byHand)],
      ['machine provision (a whole CLI run)', med(ours)],
      ['machine create -d generic (+ CA, certs, key pinning)', med(created)],
    ], med(byHand), 'machine under 1.5x the by-hand steps');
  });

  it('machine env and machine ls (200 machines, half unreachable) against bare node', async () => {
    // The reachable half points at the provisioned host of the last run; the other half at
    // closed loopback ports, as a stopped machine would.
    await resetHost();
    const store = join(work, 'ls');
    const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', key, '--engine-install-url', 'none', 'm000']);
    if (r.code !== 0) throw new Error(r.stderr);
    const base = JSON.parse(await readFile(join(store, 'machines', 'm000', 'config.json'), 'utf8'));
    sshStandIn = createServer((s) => s.destroy());
    await new Promise<void>((res) => sshStandIn.listen(0, '127.0.0.1', res));
    for (let i = 1; i < 200; i++) {
      const name = `m${String(i).padStart(3, '0')}`;
      const dir = join(store, 'machines', name);
      await mkdir(dir, { recursive: true });
      for (const f of ['ca.pem', 'cert.pem', 'key.pem', 'server.pem', 'server-key.pem', 'id_rsa', 'known_hosts']) {
        await cp(join(store, 'machines', 'm000', f), join(dir, f));
      }
      const cfg = structuredClone(base);
      cfg.Name = name;
      cfg.Driver.MachineName = name;
      if (i % 2 === 1) {
        cfg.Driver.IPAddress = '127.0.0.1';
        cfg.Driver.SSHPort = 1;
      }
      cfg.Driver.SSHKeyPath = join(dir, 'id_rsa');
      cfg.HostOptions.AuthOptions.StorePath = dir;
      cfg.HostOptions.AuthOptions.ServerCertPath = join(dir, 'server.pem');
      cfg.HostOptions.AuthOptions.ServerKeyPath = join(dir, 'server-key.pem');
      await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 4));
    }
    const env = { ...process.env, MACHINE_STORAGE_PATH: store };
    const node = process.execPath;
    const bare = medianMs(node, ['-e', '0'], RUNS, env);
    report(`machine env (median of ${RUNS})`, [
      ['node -e 0', bare],
      ['machine env m000', medianMs(node, [cliPath, 'env', 'm000'], RUNS, env)],
      ['machine url m000', medianMs(node, [cliPath, 'url', 'm000'], RUNS, env)],
      ['machine config m000', medianMs(node, [cliPath, 'config', 'm000'], RUNS, env)],
    ], bare, 'env under 1.5x bare node');
    const lsRuns = 5;
    report(`machine ls, 200 machines (100 unreachable), median of ${lsRuns}`, [
      ['node -e 0', bare],
      ['machine ls', medianMs(node, [cliPath, 'ls'], lsRuns, env)],
      ['machine ls -q', medianMs(node, [cliPath, 'ls', '-q'], lsRuns, env)],
    ], bare, 'ls under 3 s');
  });
});
