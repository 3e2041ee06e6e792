import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ProgressEventSchema, type ProgressEvent } from '../../src/cli/progress-events.js';
import { createTestHost, makeTestKey, type TestHost } from '../harness/hosts.js';
import { bash, cliPath, machine, tempStore } from '../helpers/cli.js';
import { ENTER, onPty } from '../helpers/pty.js';

// #16: what a person at a terminal sees (live progress, prompts), and what a script reads
// (JSON events and output, completion). Terminals are real pseudo-terminals (test/helpers/pty.ts).

const skipReason = inject('e2eSkipReason');

const hasCommand = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

/** The events of a --progress=json run, each checked against the schema kept in the repo. */
function events(stderr: string): ProgressEvent[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => v.parse(ProgressEventSchema, JSON.parse(line)));
}

describe('output for scripts, and questions that need no host', () => {
  let store: string;
  beforeAll(async () => {
    store = join(await tempStore('machine-e2e-ux-'), 'store');
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'n1'])).code).toBe(0);
  });

  it('ls --format json is one array; status, url and version take --format json; another format is one line', async () => {
    const ls = JSON.parse((await machine(store, ['ls', '--format', 'json'])).stdout);
    expect(ls).toHaveLength(1);
    expect(ls[0]).toMatchObject({ Name: 'n1', DriverName: 'none', URL: expect.any(String), State: expect.any(String) });
    expect(JSON.parse((await machine(store, ['url', '--format', 'json', 'n1'])).stdout)).toEqual({ Name: 'n1', URL: 'tcp://127.0.0.1:9' });
    expect(JSON.parse((await machine(store, ['status', '--format', 'json', 'n1'])).stdout)).toMatchObject({ Name: 'n1', State: expect.any(String) });
    expect(JSON.parse((await machine(store, ['version', '--format', 'json'])).stdout)).toEqual({ Version: expect.any(String) });
    const bad = await machine(store, ['url', '--format', 'yaml', 'n1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('--format takes "json" here, not "yaml"');
  });

  it('--progress=json ends with an error event when the command fails, and stderr stays JSON', async () => {
    const r = await machine(store, ['create', '--progress', 'json', '-d', 'generic', 'nohost']);
    expect(r.code).toBe(1);
    const ev = events(r.stderr);
    expect(ev.at(-1)).toMatchObject({ step: 'command', status: 'error', error: 'generic driver requires the --generic-ip-address option' });
  });

  it('without a terminal nothing waits: rm without -y reads no answer and changes nothing', async () => {
    const r = await machine(store, ['rm', 'n1'], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Aborting removal: nothing was changed');
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('n1');
    // Piped answers keep working.
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'n2'])).code).toBe(0);
    expect((await machine(store, ['rm', 'n2'], { input: 'y\n' })).stdout).toContain('Successfully removed n2');
  });

  it('create with no name on a terminal asks for it and the flags the driver needs, then prints the command line', async () => {
    const r = onPty([process.execPath, cliPath, 'create', '-d', 'none'], { MACHINE_STORAGE_PATH: store });
    await r.waitFor(/Name of the machine/);
    r.send('g1' + ENTER);
    await r.waitFor(/--url: URL of the engine/);
    r.send('tcp://127.0.0.1:9' + ENTER);
    expect((await r.done).code).toBe(0);
    expect(r.text()).toContain('The same without questions: machine create -d none --url tcp://127.0.0.1:9 g1');
    expect(JSON.parse((await machine(store, ['url', '--format', 'json', 'g1'])).stdout)).toEqual({ Name: 'g1', URL: 'tcp://127.0.0.1:9' });
    // Without a terminal, no question: the usage line, as before.
    const plain = await machine(store, ['create', '-d', 'none']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/No machine name specified/);
    expect((await machine(store, ['rm', '-y', 'g1'])).code).toBe(0);
  });

  /** The environment of a shell where `machine` is on PATH, on this store. */
  const shellEnv = () => {
    const bin = join(store, '..', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'machine'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
    chmodSync(join(bin, 'machine'), 0o755);
    return { PATH: `${bin}:${process.env.PATH}`, MACHINE_STORAGE_PATH: store };
  };
  // What each shell's completion must offer for what was typed.
  const expected: Array<[typed: string, offered: string]> = [
    ['machine ss', 'ssh'],
    ['machine rm n', 'n1'],
    ['machine create -d generic --generic-ip', '--generic-ip-address'],
    ['machine create -d q', 'qemu'],
  ];

  it('bash completes commands, flags of the chosen driver and machine names', async () => {
    const complete = (words: string) =>
      bash(`eval "$(machine completion bash)"; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _machine_complete machine; printf '%s\\n' "\${COMPREPLY[@]}"`, shellEnv());
    for (const [typed, offered] of expected) expect((await complete(typed)).stdout.trim().split('\n')).toEqual([offered]);
  });

  it.skipIf(!hasCommand('fish'))(`fish completes as bash does, through its own completion engine${hasCommand('fish') ? '' : ' (skipped: fish is not installed; npm test installs it as root)'}`, async () => {
    for (const [typed, offered] of expected) {
      const r = spawnSync('fish', ['-c', `machine completion fish | source; complete -C ${JSON.stringify(typed)}`], { env: { ...process.env, ...shellEnv() }, encoding: 'utf8' });
      expect({ typed, out: r.stdout.trim().split('\n'), err: r.stderr }).toEqual({ typed, out: [offered], err: '' });
    }
  });

  it.skipIf(!hasCommand('zsh'))(`zsh completes as bash does: TAB in an interactive zsh with compinit${hasCommand('zsh') ? '' : ' (skipped: zsh is not installed; npm test installs it as root)'}`, async () => {
    const z = onPty(['zsh', '-f', '-i'], shellEnv());
    try {
      z.send(`PS1='> '; bindkey -e; autoload -Uz compinit; compinit -u -D; eval "$(machine completion zsh)"; print RE""ADY${ENTER}`);
      await z.waitFor(/^READY$/m);
      for (const [i, [typed, offered]] of expected.entries()) {
        // TAB completes the line in place; Ctrl-A and a print before it show what it became.
        z.send(`${typed}\t\x01print -r -- ${i}: ${ENTER}`);
        await z.waitFor(new RegExp(`^${i}: .*$`, 'm'));
        expect(new RegExp(`^${i}: (.*)$`, 'm').exec(z.text())![1]!.trim()).toBe(`${typed.replace(/\S+$/, '')}${offered}`);
      }
    } finally {
      z.send(`exit${ENTER}`);
      await z.done;
    }
  });
});

describe.skipIf(skipReason)(`a person at a terminal${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;
  const cli = (...args: string[]) => [process.execPath, cliPath, ...args];

  beforeAll(async () => {
    work = await tempStore('machine-e2e-tty-');
    store = join(work, 'store');
    key = await makeTestKey(work);
    host = await createTestHost({ dockerHost: inject('dockerHost'), image: inject('hostImage'), keyPath: key });
  });
  afterAll(async () => {
    await host?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const flags = () => ['-d', 'generic', '--engine-install-url', 'distro', '--generic-ip-address', host.ip, '--generic-ssh-key', key];

  it('create --progress=json: every event validates, steps start and end, the last says done', async () => {
    const r = await machine(store, ['create', '--progress', 'json', ...flags(), 'j1']);
    expect(r.code).toBe(0);
    const ev = events(r.stderr);
    expect(ev.at(-1)).toMatchObject({ machine: null, step: 'command', status: 'done' });
    const started = ev.filter((e) => e.status === 'started').map((e) => e.step);
    expect(started).toEqual(expect.arrayContaining(['Running pre-create checks...', 'Copying certs to the remote machine...', 'Checking connection to Docker...']));
    // Each started step is done before the end, and elapsed never goes back.
    for (const step of started) expect(ev.some((e) => e.step === step && e.status === 'done')).toBe(true);
    expect(ev.map((e) => e.elapsed)).toEqual([...ev.map((e) => e.elapsed)].sort((a, b) => a - b));
    // The engine install says which package it is at.
    expect(ev.some((e) => e.status === 'progress' && /^(unpacking|setting up) /.test(e.message ?? ''))).toBe(true);
    expect((await machine(store, ['rm', '-y', 'j1'])).code).toBe(0);
  });

  it('on a terminal: progress redraws and completes; rm asks, naming what goes; a changed host key shows both fingerprints and asks', async () => {
    const create = onPty(cli('create', ...flags(), 't1'), { MACHINE_STORAGE_PATH: store });
    const made = await create.done;
    expect(made.code).toBe(0);
    // A live line: the spinner redrew it in place (erase-line sequences), and each step ended ticked.
    expect(made.output).toMatch(/\x1b\[2K/);
    expect(create.text()).toMatch(/✔ Running pre-create checks\.\.\. \(\d+\.\ds\)/);
    expect(create.text()).toMatch(/Done in \d+\.\ds/);
    // A quick command at a terminal (the live display's mode) prints its lines with no display
    // drawn, and its error on its own line.
    const listed = onPty(cli('ls', '--filter', 'name=t1'), { MACHINE_STORAGE_PATH: store });
    const table = await listed.done;
    expect(table.code).toBe(0);
    expect(listed.text()).toMatch(/^NAME +ACTIVE +DRIVER +STATE +URL +SWARM +DOCKER +ERRORS\r?\nt1 +- +generic +Running +tcp:\/\//m);
    expect(table.output).not.toMatch(/\x1b\[2K/);
    const missing = onPty(cli('url', 'nosuch'), { MACHINE_STORAGE_PATH: store });
    expect((await missing.done).code).toBe(1);
    expect(missing.text()).toContain('Docker machine "nosuch" does not exist');

    // The machine is reinstalled behind our back: its SSH host key changes.
    await host.exec('rm -f /etc/ssh/ssh_host_* && ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh');
    const refused = onPty(cli('ssh', 't1', 'true'), { MACHINE_STORAGE_PATH: store });
    await refused.waitFor(/Trust the new host key of t1\?/);
    expect(refused.text()).toMatch(/pinned\s+SHA256:\S+\n\s+offered SHA256:\S+/);
    refused.send('n' + ENTER);
    const no = await refused.done;
    expect(no.code).toBe(1);
    expect(refused.text()).toContain('accept-host-key t1');
    const accepted = onPty(cli('ssh', 't1', 'echo', 'after-accept'), { MACHINE_STORAGE_PATH: store });
    await accepted.waitFor(/Trust the new host key of t1\?/);
    accepted.send('y' + ENTER);
    const yes = await accepted.done;
    expect(yes.code).toBe(0);
    expect(accepted.text()).toContain('after-accept');
    // Without a terminal a changed key stays a refusal (the key is pinned now, so none here).
    expect((await machine(store, ['ssh', 't1', 'true'])).code).toBe(0);

    const keep = onPty(cli('rm', 't1'), { MACHINE_STORAGE_PATH: store });
    await keep.waitFor(/Remove t1\?/);
    expect(keep.text()).toContain(`t1: the record only: the host ${host.ip} and its engine stay`);
    keep.send('n' + ENTER);
    expect((await keep.done).code).toBe(1);
    expect(existsSync(join(store, 'machines', 't1'))).toBe(true);
    const gone = onPty(cli('rm', 't1'), { MACHINE_STORAGE_PATH: store });
    await gone.waitFor(/Remove t1\?/);
    gone.send('y' + ENTER);
    expect((await gone.done).code).toBe(0);
    expect(existsSync(join(store, 'machines', 't1'))).toBe(false);
    expect(readFileSync(join(store, 'certs', 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
