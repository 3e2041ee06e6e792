import { ProvisionError } from '../errors.js';

// Where the journal's lines start in the stderr of a failed (re)start (before it is
// systemctl's "Job for docker.service failed", which names no cause), and whose they are:
// dockerd's own, or (when it never ran) systemd's about the unit.
const JOURNAL_MARK = '@@machine:journal';

/**
 * Shell that runs `steps` (ending in a start or restart of docker.service) and, when they
 * fail, prints what dockerd itself said on stderr after a marker, then exits 1.
 *
 * The journal is read by the failed main process's PID, not with --after-cursor: combined
 * with a match, journalctl (systemd 252) skips the first matching entry, which is dockerd's
 * reason. --since keeps an earlier dockerd with a reused PID out; journald files a dying
 * process's last lines a moment after systemd has seen it exit, hence the short retry.
 * Without lines from the process (it never ran: a dependency or ExecStartPre failed), the
 * unit's own last lines are the best there is.
 */
export function startEngineScript(steps: string[]): string {
  return [
    `machine_since=$(date '+%Y-%m-%d %H:%M:%S')`,
    `if ! ( ${steps.join(' && ')} ); then`,
    `  pid=$(systemctl show -p ExecMainPID --value docker.service 2>/dev/null || true)`,
    `  out=''`,
    `  if [ -n "$pid" ] && [ "$pid" != 0 ]; then`,
    `    for i in 1 2 3 4 5 6 7 8 9 10; do`,
    `      out=$(journalctl --no-pager -o cat --since "$machine_since" _SYSTEMD_UNIT=docker.service _PID="$pid" 2>/dev/null | tail -n 30)`,
    `      [ -n "$out" ] && break`,
    `      sleep 0.2`,
    `    done`,
    `  fi`,
    `  from=dockerd`,
    `  [ -n "$out" ] || { from=unit; out=$(journalctl --no-pager -o cat --since "$machine_since" -u docker.service 2>/dev/null | tail -n 5); }`,
    `  echo "${JOURNAL_MARK} $from" >&2`,
    `  printf '%s\\n' "$out" >&2`,
    `  exit 1`,
    `fi`,
  ].join('\n');
}

/**
 * dockerd's reason from its journal lines: its error-level log messages and the plain lines
 * it prints when it refuses its flags ("Status: unknown flag: --x", "unable to parse logging
 * level: x"), without the info chatter of a start and the "See 'dockerd --help'" footer.
 */
export function dockerdReason(journal: string[]): string {
  const reasons: string[] = [];
  for (const raw of journal) {
    let line = raw.trim();
    if (!line) continue;
    const logrus = /^time="[^"]*"\s+level=(\w+)\s+msg="((?:[^"\\]|\\.)*)"\s*(.*)$/.exec(line);
    if (logrus) {
      if (!/^(error|fatal|panic)$/.test(logrus[1]!)) continue;
      line = [logrus[2]!.replace(/\\(.)/g, '$1'), logrus[3]!.trim()].filter(Boolean).join(' ');
    } else if (/^level=\w+ msg=/.test(line) || /^See 'dockerd --help'/.test(line)) {
      continue;
    }
    line = line.replace(/^Status: /, '').replace(/,? Code: \d+$/, '');
    if (line && !reasons.includes(line)) reasons.push(line);
  }
  return reasons.slice(-2).join(' | ');
}

/**
 * The one-line error for a failed (re)start of docker.service, or undefined when the
 * script failed before it (e.g. writing a file). `fix` names what the user should change.
 */
export function engineStartError(stderr: string, fix: string): ProvisionError | undefined {
  const at = stderr.indexOf(JOURNAL_MARK);
  if (at < 0) return undefined;
  const [head = '', ...journal] = stderr.slice(at + JOURNAL_MARK.length).split('\n');
  const reason = head.trim() === 'dockerd' ? dockerdReason(journal) : '';
  // Nothing from dockerd: systemd's last word on the unit (a dependency, a start limit), or
  // at least systemctl's.
  const said = reason
    ? `dockerd says: ${reason}`
    : `systemd says: ${journal.map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ') || stderr.slice(0, at).trim().split('\n')[0] || 'no reason given'}`;
  return new ProvisionError(`docker.service failed to start on the host (${said}): ${fix}`);
}
