import { DROPIN_PATH, REMOTE_CA, REMOTE_CERT, REMOTE_KEY } from './engine-config.js';
import { shQuote } from './remote.js';

// A create on a host the driver did not make (generic) changes a machine that is not ours:
// its name, /etc/hosts, the engine's drop-in and certificates (perhaps another machine's),
// and the engine's state. Before the first change, what was there is kept on the host; a
// create that fails puts it back, one that succeeds drops the copy. The engine package a
// create installed stays: removing packages is the host owner's call.

const FILES = ['/etc/hostname', '/etc/hosts', DROPIN_PATH, REMOTE_CA, REMOTE_CERT, REMOTE_KEY];

/** Where the copy lives until the create ends. */
export function backupDir(machine: string): string {
  return `/var/lib/machine/before-${machine}`;
}

const saved = (f: string) => `"$b"/${shQuote(f.replace(/\//g, '%'))}`;

/**
 * Shell that keeps the host as found, once: a copy left by a create that died before it could
 * restore is the older state, and stays. Quiet; part of the facts round trip.
 */
export function backupScript(machine: string): string {
  return [
    `b=${shQuote(backupDir(machine))}`,
    'if [ ! -d "$b" ]; then',
    '  mkdir -p "$b.tmp" && b0="$b" && b="$b.tmp"',
    '  hostname > "$b/hostname"',
    '  systemctl is-active docker.service > "$b/docker-active" 2>/dev/null || true',
    ...FILES.map((f) => `  if [ -e ${shQuote(f)} ]; then cp -p ${shQuote(f)} ${saved(f)}; else : > ${saved(f)}.absent; fi`),
    '  mv "$b" "$b0"',
    'fi',
  ].join('\n');
}

/** Shell that puts the host back as the copy says, then drops the copy. Does nothing without one. */
export function restoreScript(machine: string): string {
  const put = (f: string) =>
    f === '/etc/hosts'
      ? // In place: in a container /etc/hosts is a bind mount that a rename cannot replace.
        `if [ -e ${saved(f)} ]; then cat ${saved(f)} > /etc/hosts; fi`
      : `if [ -e ${saved(f)}.absent ]; then rm -f ${shQuote(f)}; elif [ -e ${saved(f)} ]; then cp -p ${saved(f)} ${shQuote(f)}; fi`;
  return [
    `b=${shQuote(backupDir(machine))}`,
    '[ -d "$b" ] || exit 0',
    ...FILES.map(put),
    'old=$(cat "$b/hostname")',
    'if [ -n "$old" ] && [ "$(hostname)" != "$old" ]; then hostnamectl set-hostname "$old" 2>/dev/null || hostname "$old"; fi',
    'systemctl daemon-reload 2>/dev/null || true',
    'systemctl reset-failed docker.service 2>/dev/null || true',
    'if [ "$(cat "$b/docker-active")" = active ]; then systemctl restart docker.service; else systemctl stop docker.service 2>/dev/null || true; fi',
    'rm -rf "$b"',
    'rmdir /var/lib/machine 2>/dev/null || true',
  ].join('\n');
}

/** Shell that drops the copy once the create has succeeded. */
export function discardScript(machine: string): string {
  return `rm -rf ${shQuote(backupDir(machine))}; rmdir /var/lib/machine 2>/dev/null || true`;
}
