import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ec2Endpoint, type InstanceBackend } from '../ec2/server.js';
import { machine, machineSpawn, tempStore } from '../helpers/cli.js';

// #12: whatever moment a create dies at (kill -9, a closed terminal's SIGHUP, Ctrl-C), nothing
// it made may stay behind in the account: Ctrl-C and SIGHUP clean up themselves, and after a
// kill -9 `rm` finds everything, even what the record never heard of. The endpoint holds a
// chosen call open, before or after it acted, and the test strikes then. No real hosts are
// needed: instances "run" at 127.0.0.1 behind an SSH port that accepts and never speaks.

const ACCESS = 'AKIDMACHINETEST';

type Moment =
  | { step: string; action: string; phase: 'before' | 'after' }
  | { step: string; output: RegExp };

// The five moments the issue names. A pause "after" holds the answer of a call that has
// already made its resource: the worst case, where only the tags know about it.
const moments: Moment[] = [
  { step: 'during ImportKeyPair', action: 'ImportKeyPair', phase: 'after' },
  { step: 'after ImportKeyPair', action: 'DescribeSecurityGroups', phase: 'before' },
  { step: 'during CreateSecurityGroup', action: 'CreateSecurityGroup', phase: 'after' },
  { step: 'after CreateSecurityGroup', action: 'AuthorizeSecurityGroupIngress', phase: 'before' },
  { step: 'during RunInstances', action: 'RunInstances', phase: 'after' },
  { step: 'while waiting for running', action: 'DescribeInstances', phase: 'before' },
  { step: 'while waiting for SSH', output: /Waiting for SSH to be available/ },
];

const backend: InstanceBackend = {
  launch: async () => ({ publicIp: '127.0.0.1', privateIp: '127.0.0.1' }),
  stop: async () => undefined,
  start: async () => ({ publicIp: '127.0.0.1', privateIp: '127.0.0.1' }),
  terminate: async () => undefined,
};

describe('amazonec2: an interrupted or killed create leaves nothing behind (#12)', () => {
  let silentSsh: Server;
  const sockets = new Set<Socket>();
  let sshPort: number;
  let store: string;

  beforeAll(async () => {
    // Accepts and never sends a banner: the SSH wait goes on until the test strikes.
    silentSsh = createServer((socket) => sockets.add(socket));
    await new Promise<void>((r) => silentSsh.listen(0, '127.0.0.1', r));
    sshPort = (silentSsh.address() as { port: number }).port;
    store = join(await tempStore('machine-e2e-ec2-crash-'), 'store');
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silentSsh.close(r));
  });

  /** Runs a create and strikes it with `signal` at the moment; resolves with its result and the endpoint. */
  async function strike(moment: Moment, signal: NodeJS.Signals, name: string) {
    let strikeNow: () => void = () => undefined;
    let fired = false;
    const endpoint = new Ec2Endpoint({
      accessKeys: [ACCESS],
      backend,
      transitionMs: 100,
      pause: async (action, phase) => {
        if (fired || !('action' in moment) || action !== moment.action || phase !== moment.phase) return;
        fired = true;
        strikeNow();
        // After a Ctrl-C the call in flight still gets its answer (the driver waits for it);
        // after kill -9 the answer goes nowhere.
        await new Promise((r) => setTimeout(r, 500));
      },
    });
    const url = await endpoint.listen();
    const run = machineSpawn(store, [
      ...(process.env.CRASH_DEBUG ? ['--debug'] : []), 'create', '-d', 'amazonec2', '--amazonec2-endpoint', url, '--amazonec2-access-key', ACCESS, '--amazonec2-secret-key', 'not-a-real-secret',
      '--amazonec2-ssh-user', 'root', '--amazonec2-ssh-port', String(sshPort), '--wait-timeout', '120', name,
    ]);
    let struckAt = -1;
    strikeNow = () => {
      fired = true;
      struckAt = endpoint.calls.length;
      run.child.kill(signal);
    };
    if ('output' in moment) {
      let seen = '';
      run.child.stdout.on('data', (d: Buffer) => {
        seen += d.toString();
        if (!fired && moment.output.test(seen)) setTimeout(strikeNow, 1000);
      });
    }
    const result = await run.done;
    if (process.env.CRASH_DEBUG) console.log(result.stderr);
    // Calls that make something, sent after the strike: an interrupted create starts nothing new.
    const madeAfter = endpoint.calls.slice(struckAt).filter((c) => /^(Create|Import|Run|Authorize)/.test(c));
    return { result, endpoint, fired, madeAfter };
  }

  const leftovers = (e: Ec2Endpoint) => ({
    instances: e.live().map((i) => i.id),
    keyPairs: [...e.keyPairs.keys()],
    groups: [...e.groups.values()].map((g) => g.name),
  });
  const nothing = { instances: [], keyPairs: [], groups: [] };

  it.each(moments.map((m, i) => [m.step, m, i] as const))('kill -9 %s, then rm: nothing left', async (_step, moment, i) => {
    const name = `crash9-${i}`;
    const { result, endpoint, fired } = await strike(moment, 'SIGKILL', name);
    expect(fired).toBe(true);
    expect(result.code).toBe(137);
    // The killed create left its record: rm finds the rest.
    const rm = await machine(store, ['rm', '-y', name]);
    expect(rm.stderr).toBe('');
    expect(rm.stdout).toContain(`Successfully removed ${name}`);
    expect(leftovers(endpoint)).toEqual(nothing);
    await endpoint.close();
  });

  for (const signal of ['SIGHUP', 'SIGINT'] as const) {
    it.each(moments.map((m, i) => [m.step, m, i] as const))(`${signal} %s: nothing left and no record`, async (_step, moment, i) => {
      const name = `${signal.toLowerCase()}-${i}`;
      const { result, endpoint, fired, madeAfter } = await strike(moment, signal, name);
      expect(fired).toBe(true);
      expect(madeAfter).toEqual([]);
      expect(result.stderr).toMatch(/stopping and cleaning up/);
      expect(result.stderr).toMatch(new RegExp(`Interrupted: removed what creating "${name}" had made`));
      expect(result.code).toBe(130);
      // Promptly: the SSH wait stops at the interrupt, not at its own timeout.
      expect(result.ms).toBeLessThan(15_000);
      expect(leftovers(endpoint)).toEqual(nothing);
      expect((await machine(store, ['ls', '-q'])).stdout.split('\n')).not.toContain(name);
      await endpoint.close();
    });
  }
});
