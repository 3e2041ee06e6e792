import { createHash } from 'node:crypto';
import { ProvisionError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EngineOptions } from '../store/schema.js';
import { detectFamily, type OsFamily } from './families.js';
import { parseOsRelease } from './os-release.js';
import { shQuote, type Remote } from './remote.js';
import { DROPIN_PATH, keepUnitArgs, proxyEnvironment, REMOTE_CA, REMOTE_CERT, REMOTE_KEY, renderDropIn } from './engine-config.js';
import { engineStartError, startEngineScript } from './engine-start.js';
import { hostnameScript, hostsCheckScript } from './hostname.js';
import { backupScript } from './restore.js';

export interface ProvisionInput {
  remote: Remote;
  /** The user's proxy: for the engine install and in dockerd's environment (NO_PROXY already holds the machine's addresses). */
  proxy?: { HTTP_PROXY: string; HTTPS_PROXY: string; NO_PROXY: string };
  /** The SSH login: over the SSH transport it must reach the engine's socket (docker group). */
  sshUser?: string;
  machineName: string;
  driverName: string;
  engine: EngineOptions;
  enginePort: number;
  /** The engine's TLS files; none for an engine reached over SSH only. */
  certs?: { ca: Buffer; serverCert: Buffer; serverKey: Buffer };
  log: Logger;
  /** Checks the engine the way the client will reach it; throws while it is not ready yet. */
  verify: () => Promise<void>;
  verifyTimeoutMs?: number;
  /** Keep the host as found first (a create on a host the driver did not make): see restore.ts. */
  backupFirst?: boolean;
  /** Told once the copy of the host as found exists: from then on there is something to restore. */
  onBackup?: () => void;
}

export interface ProvisionResult {
  family: OsFamily['name'];
  os: string;
  installed: boolean;
  changed: string[];
}

interface Facts {
  os: Record<string, string>;
  hostname: string;
  /** /etc/hosts lacks the machine's one line, or has more. */
  hostsStale: boolean;
  dockerd: string;
  unitExecStart: string;
  sums: Map<string, string>;
  active: boolean;
  failed: boolean;
  /** The engine has been started since boot (so systemd may count its starts). */
  startedSinceBoot: boolean;
  enabled: boolean;
  /** The kernel has AppArmor on and apparmor_parser is missing: dockerd could start no container. */
  apparmorParserMissing: boolean;
}

const SECTION = '@@machine:';

// One round trip learns everything the run needs to decide what to change.
const factsScript = (machineName: string) => [
  `echo ${SECTION}os; cat /etc/os-release 2>/dev/null`,
  `echo ${SECTION}hostname; hostname`,
  `echo ${SECTION}hosts; ${hostsCheckScript(machineName)}`,
  `echo ${SECTION}dockerd; command -v dockerd || true`,
  // One systemctl call for the unit's file and both states (each call is a round trip to
  // systemd); `show` prints its properties in its own order, so they are read by name, with
  // the shell's own read and case: each process forked costs a small host a few milliseconds.
  `u=$(systemctl show -p FragmentPath -p ActiveState -p UnitFileState -p InactiveExitTimestampMonotonic docker.service 2>/dev/null) || u=''`,
  `machine_fp=''; machine_as=''; machine_ufs=''; machine_ie=''`,
  `while IFS='=' read -r k v; do case $k in FragmentPath) machine_fp=$v ;; ActiveState) machine_as=$v ;; UnitFileState) machine_ufs=$v ;; InactiveExitTimestampMonotonic) machine_ie=$v ;; esac; done <<MACHINE_UNIT\n$u\nMACHINE_UNIT`,
  // The unit's last ExecStart= with a command (an empty one only resets the list).
  `echo ${SECTION}unit; [ -n "$machine_fp" ] && sed -n '/^ExecStart=./h; \${x;/./p;}' "$machine_fp"`,
  `echo ${SECTION}sums; sha256sum ${REMOTE_CA} ${REMOTE_CERT} ${REMOTE_KEY} ${DROPIN_PATH} 2>/dev/null`,
  `echo ${SECTION}active; echo "$machine_as"`,
  `echo ${SECTION}enabled; echo "$machine_ufs"`,
  `echo ${SECTION}started; echo "$machine_ie"`,
  // dockerd's own test (runc's apparmor.IsEnabled): securityfs shows AppArmor and the module is on.
  `echo ${SECTION}apparmor; [ -d /sys/kernel/security/apparmor ] && [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && ! command -v apparmor_parser >/dev/null 2>&1 && echo missing`,
  'true',
].join('\n');

// The facts' end on stdout, where the changes they call for follow on the same channel.
const FACTS_DONE = '@@machine:facts-done';

/** The facts script, with the copy of the host as found first when asked (before anything changes). */
function factsInput(machineName: string, backupFirst: boolean): string {
  const backup = backupFirst ? `(\n${backupScript(machineName)}\n) >/dev/null 2>&1\n` : '';
  return backup + factsScript(machineName);
}

async function gatherFacts(remote: Remote, machineName: string): Promise<Facts> {
  return parseFacts(await remote.run(factsInput(machineName, false)));
}

function parseFacts(out: string): Facts {
  const sections = new Map<string, string>();
  let current = '';
  for (const line of out.split('\n')) {
    if (line.startsWith(SECTION)) {
      current = line.slice(SECTION.length);
      sections.set(current, '');
    } else if (current) {
      sections.set(current, sections.get(current) + line + '\n');
    }
  }
  const sums = new Map<string, string>();
  for (const line of (sections.get('sums') ?? '').split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) sums.set(m[2]!, m[1]!);
  }
  return {
    os: parseOsRelease(sections.get('os') ?? ''),
    hostname: (sections.get('hostname') ?? '').trim(),
    hostsStale: (sections.get('hosts') ?? '').trim() === 'fix',
    dockerd: (sections.get('dockerd') ?? '').trim(),
    unitExecStart: (sections.get('unit') ?? '').trim(),
    sums,
    active: (sections.get('active') ?? '').trim() === 'active',
    failed: (sections.get('active') ?? '').trim() === 'failed',
    // 0 while the unit has not left the inactive state since boot; empty where systemctl is not.
    startedSinceBoot: !['0', ''].includes((sections.get('started') ?? '').trim()),
    enabled: (sections.get('enabled') ?? '').trim() === 'enabled',
    apparmorParserMissing: (sections.get('apparmor') ?? '').trim() === 'missing',
  };
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** What the facts call for: the name, the files that differ, the systemctl steps. */
interface Plan {
  naming?: string;
  files: Array<[string, Buffer | string, number]>;
  steps: string[];
  changed: string[];
}

function planChanges(input: ProvisionInput, facts: Facts, earlier: string[]): Plan {
  const { log } = input;
  const changed = [...earlier];
  // Named in the apply step's round trip, not one of its own: after any install, so that
  // sudo during the install never meets a name /etc/hosts does not know yet.
  const naming = facts.hostname !== input.machineName || facts.hostsStale ? hostnameScript(input.machineName) : undefined;
  if (facts.hostname !== input.machineName) changed.push('hostname');
  if (facts.hostsStale) changed.push('/etc/hosts');
  const files: Array<[string, Buffer | string, number]> = [];
  if (input.certs) {
    log.info('Copying certs to the remote machine...');
    files.push([REMOTE_CA, input.certs.ca, 0o644], [REMOTE_CERT, input.certs.serverCert, 0o644], [REMOTE_KEY, input.certs.serverKey, 0o600]);
  }
  log.info('Setting Docker configuration on the remote daemon...');
  const unitArgs = splitExecStart(facts.unitExecStart);
  const dropIn = renderDropIn({
    dockerdPath: facts.dockerd,
    socketActivated: unitArgs.includes('fd://'),
    keptArgs: keepUnitArgs(unitArgs.slice(1)),
    enginePort: input.enginePort,
    driverName: input.driverName,
    engine: input.engine,
    ...(input.proxy ? { proxy: input.proxy } : {}),
  });
  files.push([DROPIN_PATH, dropIn, 0o644]);
  const toWrite = files.filter(([path, data]) => facts.sums.get(path) !== sha256(data));
  changed.push(...toWrite.map(([path]) => path));
  // The name is not the engine's configuration: renaming the host needs no restart.
  const configChanged = changed.some((c) => c !== 'hostname' && c !== '/etc/hosts');
  const restart = configChanged || !facts.active;
  // Each systemctl step only when needed: `enable` reloads systemd itself, and a reload
  // costs about as much as the engine's restart.
  const steps = restart
    ? [
        ...(facts.enabled ? (changed.includes(DROPIN_PATH) ? ['systemctl daemon-reload'] : []) : ['systemctl enable docker.service >/dev/null 2>&1']),
        // Besides a failed state, it clears systemd's start counter. Debian's unit allows 3
        // starts a minute, which provision, regenerate-certs and start together exceed, and
        // the next restart is then refused ("start-limit-hit"). An engine not started since
        // boot (a new machine's) has nothing to clear, and the call costs its host 30 ms.
        ...(facts.failed || facts.startedSinceBoot ? ['(systemctl reset-failed docker.service 2>/dev/null || true)'] : []),
        'systemctl restart docker.service',
      ]
    : [];
  if (restart) log.debug(`restarting docker (changed: ${changed.join(', ') || 'nothing; engine was not active'})`);
  return { ...(naming ? { naming } : {}), files: toWrite, steps, changed };
}

const hasWork = (p: Plan) => Boolean(p.naming || p.files.length || p.steps.length);

/**
 * Brings a host to a TLS-secured engine. Idempotent: what already matches is left alone,
 * and the engine restarts only when its configuration or certificates changed.
 *
 * A host with its engine installed takes one command: the facts, then (on the same
 * channel) the changes they call for. An install needs commands of its own in between.
 */
export async function provisionHost(input: ProvisionInput): Promise<ProvisionResult> {
  const { remote, log } = input;
  log.info('Detecting the provisioner...');
  let facts: Facts | undefined;
  let family: OsFamily | undefined;
  let applied: Plan | undefined;
  const factsText = factsInput(input.machineName, input.backupFirst === true);
  // The command is `sh -s`: --debug shows what it is fed (the changes hold keys, so they are
  // named, not shown).
  log.debug(`facts script, then the changes they call for on the same channel:\n${factsText}`);
  const first = await remote.exec('sh -s', {
    stdin: `${factsText}\necho ${FACTS_DONE}\n`,
    dialogue: {
      marker: FACTS_DONE,
      reply: async (out) => {
        const f = (facts = parseFacts(out));
        if (input.backupFirst) input.onBackup?.();
        const fam = (family = detectFamily(f.os));
        log.info(`Provisioning with ${f.os['ID'] ?? fam.name} (${osNameOf(f)})...`);
        // An install (engine, AppArmor's parser) needs commands of its own first.
        if (!f.dockerd || (f.apparmorParserMissing && fam.apparmorPackage)) return 'exit 0\n';
        const plan = (applied = planChanges(input, f, []));
        if (!hasWork(plan)) {
          log.debug('nothing to change');
          return 'exit 0\n';
        }
        log.debug(`applying: ${[plan.naming ? 'host name' : '', ...plan.files.map(([p]) => p), ...plan.steps].filter(Boolean).join('; ')}`);
        return applyScript(plan);
      },
    },
  });
  if (!facts || !family) {
    const last = (first.stderr.trim() || first.stdout.trim()).split('\n').pop() ?? '';
    throw new ProvisionError(`Reading the host's facts failed (exit ${first.code}): ${last}`);
  }
  if (applied) {
    throwIfFailed(first, applied, input.machineName);
  } else {
    const earlier: string[] = [];
    if (!facts.dockerd) {
      await installEngine(proxiedRemote(remote, proxyEnvironment(input.proxy)), family, facts.os, input.engine.InstallURL, log);
      earlier.push('engine');
      facts = await gatherFacts(remote, input.machineName);
      if (!facts.dockerd) {
        throw new ProvisionError('Docker was installed but dockerd is not on the PATH of the host; check the install script or use --engine-install-url distro');
      }
    }
    if (facts.apparmorParserMissing && family.apparmorPackage) {
      log.info(`Installing ${family.apparmorPackage}: the kernel has AppArmor on, and dockerd needs apparmor_parser to start containers...`);
      await proxiedRemote(remote, proxyEnvironment(input.proxy)).run(family.install([family.apparmorPackage]), { timeoutMs: 10 * 60_000, onLine: installProgress(log) });
      earlier.push('apparmor');
    }
    applied = planChanges(input, facts, earlier);
    if (hasWork(applied)) throwIfFailed(await remote.exec('sh -s', { stdin: applyScript(applied) }), applied, input.machineName);
  }
  const { changed } = applied;
  const installed = changed.includes('engine');
  const osName = osNameOf(facts);

  // The docker CLI's dial-stdio runs as the SSH user: outside root, the docker group opens the
  // socket to it. Takes effect on the next login, which is every docker command's.
  const user = input.sshUser;
  if (input.engine.Transport === 'ssh' && user && user !== 'root') {
    await remote.run(`id -nG ${shQuote(user)} | tr ' ' '\\n' | grep -qx docker || usermod -aG docker ${shQuote(user)}`);
  }

  log.info('Checking connection to Docker...');
  await waitFor(
    input.verify,
    input.verifyTimeoutMs ?? 60_000,
    input.engine.Transport === 'ssh' ? 'the Docker daemon to answer on its socket' : `the Docker daemon to answer over TLS on port ${input.enginePort}`,
  );
  return { family: family.name, os: osName, installed, changed };
}

/**
 * The package an install is at, from the package manager's own lines (dpkg's "Unpacking X",
 * "Setting up X", dnf's "Installing : X"), as the step's detail.
 */
export function installProgress(log: Logger): (line: string) => void {
  return (line) => {
    const m = /^(Unpacking|Setting up|Preparing to unpack \S+ \.\.\.|\s*Installing\s*:|\s*Upgrading\s*:)\s*([^\s(]+)/.exec(line);
    if (m) log.progress?.({ detail: `${/^Setting/.test(m[1]!) ? 'setting up' : 'unpacking'} ${m[2]}` });
  };
}

/** The install's commands (curl, the script, apt) run with the proxy in their environment. */
function proxiedRemote(remote: Remote, env: string[]): Remote {
  if (!env.length) return remote;
  const prefix = `export ${env.map(shQuote).join(' ')}; `;
  return { ...remote, exec: (c, o) => remote.exec(prefix + c, o), run: (c, o) => remote.run(prefix + c, o) };
}

async function installEngine(
  remote: Remote,
  family: OsFamily,
  os: Record<string, string>,
  installURL: string,
  log: Logger,
): Promise<void> {
  const onLine = installProgress(log);
  const distro = async () => {
    log.info(`Installing Docker from the distribution's packages (${family.distroEngine(os).join(' ')})...`);
    await remote.run(family.install(family.distroEngine(os)), { timeoutMs: 20 * 60_000, onLine });
  };
  if (installURL === 'none') {
    throw new ProvisionError(
      'Docker is not installed on the host and --engine-install-url is "none": install it first, or pass --engine-install-url distro',
    );
  }
  if (installURL === 'distro' || installURL === '') return distro();
  log.info(`Installing Docker with the script at ${installURL}...`);
  const fetch = await remote.exec(
    `command -v curl >/dev/null || (${family.install(family.prerequisites)}) >/dev/null 2>&1; ` +
      `curl -fsSL --max-time 60 ${shQuote(installURL)} -o /tmp/machine-install-docker.sh`,
  );
  if (fetch.code !== 0) {
    log.info(`Could not fetch ${installURL} from the host; falling back to the distribution's package`);
    return distro();
  }
  await remote.run('sh /tmp/machine-install-docker.sh && rm -f /tmp/machine-install-docker.sh', { timeoutMs: 20 * 60_000, onLine });
}

/** Splits a systemd ExecStart= line into argv (handles quotes; drops the leading prefixes). */
export function splitExecStart(line: string): string[] {
  const body = line.replace(/^ExecStart=/, '').replace(/^[-@:+!]+/, '');
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) args.push(m[1] ?? m[2] ?? m[3] ?? '');
  return args;
}

const NAMING_FAILED = '@@machine:naming-failed';
// Ends a file's base64 in the apply script; base64 has no '_', so no line of it can be this.
const B64_END = 'MACHINE_B64_END';

/**
 * Names the host, writes every file and restarts the engine, as one script. base64 keeps
 * the data out of the shell's way; each file is written beside its target and renamed, so
 * none is ever half-written; the script (keys included) goes over stdin, never on a command
 * line or into an error message.
 */
function applyScript(plan: Plan): string {
  const script = ['set -e', 'umask 077'];
  // A shell of its own: inside `( ... ) || ...` the shell ignores set -e, and a refused name
  // would pass unnoticed.
  if (plan.naming) script.push(`sh -c ${shQuote(plan.naming)} || { rc=$?; echo ${NAMING_FAILED} >&2; exit $rc; }`);
  // Each file appears whole or not at all: written beside itself, then renamed. Its mode
  // comes from the umask as the shell creates it, so any copy an interrupted run left is
  // removed first (it would keep its own mode). Every process forked on a container host
  // costs about 5 ms: one rm and one mkdir for all the files, then a base64 and an mv each.
  if (plan.files.length) {
    const tmp = (path: string) => shQuote(`${path}.machine-tmp`);
    const dirs = [...new Set(plan.files.map(([path]) => path.slice(0, path.lastIndexOf('/')) || '/'))];
    script.push(`rm -f ${plan.files.map(([path]) => tmp(path)).join(' ')}`, `mkdir -p ${dirs.map(shQuote).join(' ')}`);
    for (const [path, data, mode] of plan.files) {
      script.push(
        `umask ${(0o777 & ~mode).toString(8).padStart(3, '0')}`,
        `base64 -d > ${tmp(path)} <<'${B64_END}'`,
        Buffer.from(data).toString('base64'),
        B64_END,
        `mv -f ${tmp(path)} ${shQuote(path)}`,
      );
    }
    script.push('umask 077');
  }
  if (plan.steps.length) script.push(startEngineScript(plan.steps));
  return script.join('\n') + '\n';
}

/** The apply script's failure as the user's one line: the name refused, dockerd's own reason, or the step. */
function throwIfFailed(r: { code: number; stdout: string; stderr: string }, plan: Plan, machineName: string): void {
  if (r.code === 0) return;
  const namingFailed = r.stderr.indexOf(NAMING_FAILED);
  if (namingFailed >= 0) {
    const last = r.stderr.slice(0, namingFailed).trim().split('\n').pop() || r.stdout.trim().split('\n').pop() || '';
    throw new ProvisionError(`Naming the host "${machineName}" failed (exit ${r.code}): ${last}; the host must let hostname (or hostnamectl) and a write to /etc/hosts succeed`);
  }
  // What dockerd said, not systemd's "Job for docker.service failed": the usual cause is
  // an option it refuses, and only its own line names which.
  const engine = engineStartError(
    r.stderr,
    'fix the engine options it was given (--engine-opt, --engine-env, --engine-storage-driver, --engine-insecure-registry, --engine-registry-mirror, --engine-label)',
  );
  if (engine) throw engine;
  const { files, steps } = plan;
  const what = files.length ? `Writing ${files.map(([p]) => p).join(', ')}${steps.length ? ' and restarting docker' : ''}` : steps.length ? 'Restarting docker' : 'Naming the host';
  throw new ProvisionError(`${what} on the host failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

const osNameOf = (f: Facts) => f.os['PRETTY_NAME'] || f.os['ID'] || 'unknown';

export async function waitFor(check: () => Promise<void>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A short, steady interval: the engine is usually up within a second or two of its
  // restart, and a growing back-off would add most of that again as waiting.
  const delay = 100;
  let last: Error | undefined;
  while (Date.now() < deadline) {
    try {
      await check();
      return;
    } catch (err) {
      last = err as Error;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  throw new ProvisionError(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${last?.message ?? 'no answer'}`);
}
