import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Accel } from './args.js';

export interface AccelChoice {
  accel: Accel;
  /** Said to the user when auto fell back to TCG. */
  warning?: string;
}

/**
 * KVM can exist and still not work (nested virtualisation that hangs): boot the firmware
 * for a moment and see whether it prints its banner on the debug port.
 */
export function firmwareRuns(binary: string, accel: Accel, timeoutMs = 4000): Promise<boolean> {
  const log = join(tmpdir(), `machine-accel-${process.pid}-${Date.now()}.log`);
  return new Promise((resolve) => {
    const child = spawn(binary, [
      // The CPU model the machine will get: KVM can run the firmware with QEMU's default
      // model and still abort with `-cpu host` (seen with nested virtualisation).
      '-accel', accel, '-cpu', accel === 'tcg' ? 'max' : 'host', '-machine', 'q35', '-nodefaults', '-display', 'none', '-m', '64',
      '-chardev', `file,id=dbg,path=${log}`, '-device', 'isa-debugcon,iobase=0x402,chardev=dbg',
    ], { stdio: 'ignore' });
    const finish = (ok: boolean) => {
      clearInterval(poll);
      clearTimeout(timer);
      child.kill('SIGKILL');
      rmSync(log, { force: true });
      resolve(ok);
    };
    const poll = setInterval(() => {
      if (existsSync(log) && readFileSync(log, 'latin1').includes('SeaBIOS')) finish(true);
    }, 100);
    const timer = setTimeout(() => finish(false), timeoutMs);
    child.on('exit', () => finish(existsSync(log) && readFileSync(log, 'latin1').includes('SeaBIOS')));
    child.on('error', () => finish(false));
  });
}

export async function chooseAccel(
  requested: 'auto' | Accel,
  binary: string,
  probe: (binary: string, accel: Accel) => Promise<boolean> = firmwareRuns,
  platform: NodeJS.Platform = process.platform,
): Promise<AccelChoice> {
  if (requested !== 'auto') return { accel: requested };
  if (platform === 'darwin') return { accel: 'hvf' };
  if (platform === 'linux') {
    let usable = false;
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      usable = true;
    } catch {
      return { accel: 'tcg', warning: 'KVM is not available (/dev/kvm missing or not accessible): using TCG, which is much slower' };
    }
    if (usable && (await probe(binary, 'kvm'))) return { accel: 'kvm' };
    return { accel: 'tcg', warning: 'KVM is present but does not run a guest (nested virtualisation?): using TCG, which is much slower' };
  }
  return { accel: 'tcg', warning: `no accelerator known for ${platform}: using TCG` };
}
