// The machine's entry in an OpenSSH client configuration file, so that the system ssh and
// the docker CLI (which runs ssh for ssh:// hosts) check the host key pinned at create and
// log in with the machine's key. The settings are sshOptions', turned into config lines:
// one policy for `machine ssh`, `ssh machine-NAME` and `docker -H ssh://...`.
import { hostAlias } from './known-hosts.js';
import { sshOptions, type SystemSshOptions } from './system-ssh.js';
import type { SshTarget } from './session.js';

/** ssh_config quotes a value holding spaces with double quotes. */
function value(v: string): string {
  return /[\s"]/.test(v) ? `"${v.replace(/"/g, '\\"')}"` : v;
}

/** sshOptions' `-o K=V` and `-i FILE` as `K V` lines; `-F /dev/null` has no config form. */
function optionLines(target: SshTarget, opts: SystemSshOptions): string[] {
  const args = sshOptions(target, opts);
  const lines: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [flag, arg] = [args[i]!, args[i + 1]!];
    if (flag === '-o') {
      const eq = arg.indexOf('=');
      lines.push(`${arg.slice(0, eq)} ${value(arg.slice(eq + 1))}`);
    } else if (flag === '-i') {
      lines.push(`IdentityFile ${value(arg)}`);
    }
  }
  return lines;
}

/**
 * Two entries: `Host machine-NAME` (what `ssh machine-NAME` matches) and a Match on the address,
 * user and port the docker CLI dials for ssh://USER@HOST:PORT (it passes the address, not an
 * alias). The port test keeps two machines behind one address (forwarded ports) apart.
 */
export function renderMachineSshConfig(target: SshTarget, opts: SystemSshOptions): string {
  const settings = optionLines(target, opts).map((l) => `  ${l}`);
  return [
    `# machine ${opts.machine}: written by machine, rewritten when its address changes; "ssh ${hostAlias(opts.machine)}" logs in.`,
    `Host ${hostAlias(opts.machine)}`,
    `  HostName ${value(target.host)}`,
    `  Port ${target.port}`,
    `  User ${value(target.user)}`,
    ...settings,
    `Match host ${value(target.host)} user ${value(target.user)} exec "test %p = ${target.port}"`,
    ...settings,
    '',
  ].join('\n');
}
