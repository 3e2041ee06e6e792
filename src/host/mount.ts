// `mount` (Docker Machine's command): a folder of the machine on a local folder through
// sshfs, with the same host-key policy as `machine ssh` (the pinned key, checked first so a
// changed key is our one line), and `mount -u` to let it go.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MachineError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { findOnPath } from '../sys/which.js';
import type { Host } from './host.js';
import { machineFiles } from '../store/machine-files.js';
import { hostAlias } from '../ssh/known-hosts.js';
import { writeMachineSshConfig } from './ssh-config.js';
import { assertRunning } from './lifecycle.js';
import { checkPinnedHostKey } from './ssh.js';

/** `NAME:[PATH]`: the machine and its folder (empty: the SSH user's home). */
export function parseMountSource(arg: string): { machine: string; path: string } {
  const i = arg.indexOf(':');
  if (i <= 0) throw new UsageError(`Invalid mount source "${arg}": write NAME:/remote/dir`);
  return { machine: arg.slice(0, i), path: arg.slice(i + 1) };
}

function run(cmd: string, args: string[], log: Logger): Promise<{ code: number; stderr: string }> {
  log.debug(`${cmd} ${args.join(' ')}`);
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, stderr }));
  });
}

const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

export async function mountFolder(host: Host, remotePath: string, mountPoint: string, log: Logger): Promise<void> {
  const sshfs = findOnPath('sshfs');
  if (!sshfs) throw new MachineError('sshfs is not installed: install it (Debian and Ubuntu: apt-get install sshfs) to mount a folder of a machine');
  await assertRunning(host);
  const local = resolve(mountPoint);
  await mkdir(local, { recursive: true });
  await checkPinnedHostKey(host, log);
  // sshfs hands ssh only the options it knows; the machine's own ssh_config entry carries
  // them all (key, pinned host key), freshly written, so sshfs dials its alias.
  await writeMachineSshConfig(host, log);
  const config = machineFiles(host.store.machineDir(host.name)).sshConfig;
  const r = await run(sshfs, ['-F', config, `${hostAlias(host.name)}:${remotePath}`, local], log);
  if (r.code !== 0) throw new MachineError(`Mounting ${host.name}:${remotePath} on ${local} failed: ${lastLine(r.stderr) || `sshfs exited with ${r.code}`}`);
}

export async function unmountFolder(mountPoint: string, log: Logger): Promise<void> {
  const local = resolve(mountPoint);
  if (!existsSync(local)) throw new MachineError(`Nothing to unmount: ${local} does not exist`);
  const tool = findOnPath('fusermount3') ?? findOnPath('fusermount');
  const r = tool ? await run(tool, ['-u', local], log) : await run('umount', [local], log);
  if (r.code !== 0) throw new MachineError(`Unmounting ${local} failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
}
