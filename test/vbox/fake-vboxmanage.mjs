#!/usr/bin/env node
// A stand-in for VBoxManage, for hosts where VirtualBox cannot run. It answers with the
// outputs recorded from real VirtualBox installations in drivers-test-fixtures/virtualbox
// (the version picked by FAKE_VBOX_VERSION), keeps VirtualBox's state (VMs, media, host-only
// interfaces, DHCP servers) in FAKE_VBOX_HOME/state.json, logs every call to calls.jsonl, and
// backs each running VM with a real system container: its host-only interface is a Docker
// bridge of that name and address, its NAT SSH forward a TCP relay on 127.0.0.1 that, like
// VirtualBox's NAT, accepts and then drops connections while the guest has no sshd.
//
// Environment: FAKE_VBOX_HOME (required), FAKE_VBOX_VERSION (6.1, 7.0 or 7.1),
// FAKE_VBOX_DOCKER_HOST, FAKE_VBOX_IMAGE, FAKE_VBOX_DOCKER_ARGS (JSON list of extra
// `docker run` arguments), FAKE_VBOX_HWVIRT=no (VT-x disabled), FAKE_VBOX_NO_SSH=1 (guests
// never start sshd).
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = process.env.FAKE_VBOX_FIXTURES ?? resolve(here, '../../drivers-test-fixtures/virtualbox');
const version = process.env.FAKE_VBOX_VERSION ?? '7.0';
const home = process.env.FAKE_VBOX_HOME;
const dockerHost = process.env.FAKE_VBOX_DOCKER_HOST ?? '';
const LABEL = 'fakevbox';

class Fail extends Error {
  constructor(stderr, code = 1, stdout = '') {
    super(stderr);
    this.stderr = stderr;
    this.code = code;
    this.stdout = stdout;
  }
}

/** The recording for this version, else the nearest version that has one (SOURCES.md says which). */
function fixture(name) {
  const order = [version, ...['7.1', '7.0', '6.1'].filter((v) => v !== version)];
  for (const v of order) {
    const p = join(fixtures, v, name);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  throw new Error(`fake VBoxManage: no fixture ${name}`);
}

// ---------------------------------------------------------------- state and lock

const statePath = () => join(home, 'state.json');
function load() {
  if (!existsSync(statePath())) return { vms: [], media: [], hostonlyifs: [], hostonlynets: [], dhcpservers: [] };
  return JSON.parse(readFileSync(statePath(), 'utf8'));
}
function save(state) {
  writeFileSync(statePath() + '.tmp', JSON.stringify(state, null, 2));
  renameSync(statePath() + '.tmp', statePath());
}
function lock() {
  const dir = join(home, 'lock');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(dir);
      return () => rmdirSync(dir);
    } catch (err) {
      if (err.code !== 'EEXIST' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

// ---------------------------------------------------------------- docker backing

function docker(args, opts = {}) {
  return execFileSync('docker', ['-H', dockerHost, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}
function tryDocker(args) {
  try {
    return docker(args);
  } catch {
    return undefined;
  }
}
function containerRunning(vm) {
  if (!vm.container) return false;
  return tryDocker(['inspect', '-f', '{{.State.Running}}', vm.container])?.trim() === 'true';
}
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
function stopRelay(vm) {
  if (vm.relayPid && pidAlive(vm.relayPid)) process.kill(vm.relayPid, 'SIGTERM');
  vm.relayPid = 0;
}

/** The VM's state as VirtualBox would see it: a guest that halted itself is powered off. */
function refresh(vm) {
  if ((vm.state === 'running' || vm.state === 'stopping') && !containerRunning(vm)) {
    vm.state = 'poweroff';
    vm.stateChanged = new Date().toISOString();
    stopRelay(vm);
  }
  return vm;
}

const toInt = (ip) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toIp = (n) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const prefixOf = (mask) => toInt(mask).toString(2).replace(/0+$/, '').length;

/** The Docker bridge that stands for a host-only interface or network, named as the host would see it. */
function ensureIfNetwork(b) {
  const net = `${LABEL}-${b.key}`;
  if (tryDocker(['network', 'inspect', net]) !== undefined) return net;
  const prefix = prefixOf(b.mask);
  const size = 2 ** (32 - prefix);
  const subnet = `${toIp(Math.floor(toInt(b.gateway) / size) * size)}/${prefix}`;
  docker([
    'network', 'create', '--driver', 'bridge', '--subnet', subnet, '--gateway', b.gateway,
    '-o', `com.docker.network.bridge.name=${b.bridge}`, '--label', `${LABEL}=${home}`, net,
  ]);
  return net;
}

/** Where NIC 2 plugs in: a host-only interface (its DHCP server, if any) or a 7.x host-only network. */
function backingOf(vm, state) {
  const nic2 = vm.nics[2];
  if (nic2?.type === 'hostonly') {
    const ifc = state.hostonlyifs.find((i) => i.name === nic2.adapter);
    if (!ifc) {
      throw new Fail(`VBoxManage: error: Failed to open a session for the virtual machine ${vm.name}.\nVBoxManage: error: Nonexistent host networking interface, name '${nic2.adapter}' (VERR_INTERNAL_ERROR)\n`);
    }
    const dhcp = state.dhcpservers.find((d) => d.netname === `HostInterfaceNetworking-${ifc.name}` && d.enabled);
    return { key: ifc.name, bridge: ifc.name, gateway: ifc.ip, mask: ifc.mask, range: dhcp ? { lower: dhcp.lower, upper: dhcp.upper } : undefined };
  }
  if (nic2?.type === 'hostonlynet') {
    const i = (state.hostonlynets ?? []).findIndex((n) => n.name === nic2.network);
    const net = state.hostonlynets?.[i];
    if (!net) throw new Fail(`VBoxManage: error: Failed to open a session for the virtual machine ${vm.name}.\nVBoxManage: error: Host-only network '${nic2.network}' not found\n`);
    const size = 2 ** (32 - prefixOf(net.mask));
    // VirtualBox gives the host the network's first address.
    const gateway = toIp(Math.floor(toInt(net.lower) / size) * size + 1);
    return { key: `hon${i}`, bridge: `vboxhon${i}`, gateway, mask: net.mask, range: { lower: net.lower, upper: net.upper } };
  }
  return undefined;
}

/** What cloud-init would set up from the NoCloud seed. */
function guestSetup(vm) {
  const dvd = vm.attachments.find((a) => a.type === 'dvddrive');
  const hdd = vm.attachments.find((a) => a.type === 'hdd');
  if (dvd && /seed\.iso$/.test(dvd.medium)) {
    const iso = (name) => execFileSync('isoinfo', ['-i', dvd.medium, '-J', '-x', `/${name}`], { encoding: 'utf8' });
    const userData = iso('user-data');
    const network = iso('network-config');
    const user = /users:\s*\n\s*- name: (\S+)/.exec(userData)?.[1] ?? 'docker';
    const keys = [...userData.matchAll(/ssh_authorized_keys:\s*\n((?:\s+- .*\n)+)/g)].flatMap((m) => m[1].split('\n').map((l) => l.replace(/^\s*- /, '').trim()).filter(Boolean));
    const hostname = /^hostname: (\S+)/m.exec(userData)?.[1] ?? vm.name;
    // A static address for the host-only NIC, when the seed gives one.
    const mac2 = colon(vm.nics[2]?.mac ?? '');
    const block = network.split(/\n  nic\d+:\n/).find((b) => b.includes(mac2));
    const address = block ? /addresses: \[([\d.]+)\//.exec(block)?.[1] : undefined;
    return { user, keys, hostname, address };
  }
  return { user: 'docker', keys: [], hostname: vm.name };
}

const colon = (mac) => mac.toLowerCase().replace(/(..)(?!$)/g, '$1:');

function boot(vm, state) {
  const nic2 = vm.nics[2];
  const backing = backingOf(vm, state);
  const guest = guestSetup(vm);
  if (!vm.container || tryDocker(['inspect', vm.container]) === undefined) {
    const net = backing ? ensureIfNetwork(backing) : 'bridge';
    let ip = guest.address;
    if (!ip && backing?.range) {
      const taken = new Set(state.vms.filter((v) => v.ip).map((v) => v.ip));
      for (let n = toInt(backing.range.lower); n <= toInt(backing.range.upper); n++) {
        if (!taken.has(toIp(n))) {
          ip = toIp(n);
          break;
        }
      }
    }
    const extra = JSON.parse(process.env.FAKE_VBOX_DOCKER_ARGS ?? '[]');
    vm.container = docker([
      'run', '-d', '--name', `${LABEL}-${vm.uuid.slice(0, 8)}`, '--hostname', guest.hostname,
      '--label', `${LABEL}=${home}`, '--label', 'machine-e2e=1', '--stop-signal', 'SIGRTMIN+3',
      '--network', net, ...(ip ? ['--ip', ip] : []),
      ...extra, process.env.FAKE_VBOX_IMAGE, '/sbin/init',
    ]).trim();
    vm.ip = ip ?? docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', vm.container]).trim();
    const script = process.env.FAKE_VBOX_NO_SSH
      ? 'systemctl mask --now ssh.service ssh.socket >/dev/null 2>&1; true'
      : [
          `id ${guest.user} >/dev/null 2>&1 || useradd -m -s /bin/bash ${guest.user}`,
          `echo '${guest.user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users`,
          `install -d -m 700 -o ${guest.user} /home/${guest.user}/.ssh`,
          `printf '%s\\n' ${guest.keys.map((k) => `'${k}'`).join(' ')} > /home/${guest.user}/.ssh/authorized_keys`,
          `chown ${guest.user} /home/${guest.user}/.ssh/authorized_keys && chmod 600 /home/${guest.user}/.ssh/authorized_keys`,
        ].join(' && ');
    docker(['exec', vm.container, 'sh', '-c', script]);
  } else {
    // FAKE_VBOX_NEW_LEASE: the DHCP server hands this boot another address, as a lease that expired would.
    if (process.env.FAKE_VBOX_NEW_LEASE && backing?.range) {
      const net = ensureIfNetwork(backing);
      const taken = new Set(state.vms.filter((v) => v.ip).map((v) => v.ip));
      let ip;
      for (let n = toInt(backing.range.lower); n <= toInt(backing.range.upper) && !ip; n++) if (!taken.has(toIp(n))) ip = toIp(n);
      docker(['network', 'disconnect', '-f', net, vm.container]);
      docker(['network', 'connect', '--ip', ip, net, vm.container]);
      vm.ip = ip;
    }
    docker(['start', vm.container]);
  }
  // The guest's NIC has the MAC VirtualBox gave it. The engine here is too old for the
  // CLI's --mac-address, so the MAC is set from inside, on every boot.
  if (nic2?.mac) {
    docker(['exec', vm.container, 'sh', '-c', `set -- $(ip route show default); ip link set eth0 down && ip link set eth0 address ${colon(nic2.mac)} && ip link set eth0 up && ip route replace default via $3`]);
    if (backing) {
      try {
        execFileSync('ip', ['neigh', 'flush', 'dev', backing.bridge], { stdio: 'ignore' });
      } catch {
        // Only a stale ARP entry to wait out.
      }
    }
  }
  const nat = vm.nics[1]?.forwarding?.find((f) => f.guestPort === 22);
  if (nat) {
    const relay = spawn(process.execPath, [fileURLToPath(import.meta.url), '--fake-relay', String(nat.hostPort), vm.ip, vm.container], {
      detached: true,
      stdio: 'ignore',
      env: process.env,
    });
    relay.unref();
    vm.relayPid = relay.pid;
  }
}

/** The NAT engine's port forward, alive while the VM's container runs. */
function relay(hostPort, guestIp, container) {
  const server = createServer((client) => {
    const upstream = createConnection({ host: guestIp, port: 22 });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  server.listen(Number(hostPort), '127.0.0.1');
  server.on('error', () => process.exit(1));
  const check = setInterval(() => {
    if (tryDocker(['inspect', '-f', '{{.State.Running}}', container])?.trim() !== 'true') {
      clearInterval(check);
      process.exit(0);
    }
  }, 1000);
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- rendering

const OSTYPES = { Debian_64: 'Debian (64-bit)', Linux26_64: 'Linux 2.6 / 3.x / 4.x (64-bit)', Ubuntu_64: 'Ubuntu (64-bit)' };

function q(v) {
  return `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * showvminfo --machinereadable: the recorded 7.0 output with this VM's values put in. 6.1
 * printed the same keys without the "Encryption:" line that 7.0 added.
 */
function showvminfo(vm) {
  const dir = dirname(vm.cfgFile);
  const out = [];
  let nicsDone = false;
  let storageDone = false;
  for (const line of fixture('showvminfo-poweroff-natpf-hostonly.txt').split('\n')) {
    if (version === '6.1' && line.startsWith('Encryption:')) continue;
    const key = /^("[^"]*"|[^=]+)=/.exec(line)?.[1] ?? '';
    if (/^(storagecontroller\w+\d|"[^"]+-(\d+-\d+|\w+-\d+-\d+)")$/.test(key)) {
      if (!storageDone) out.push(...storageLines(vm));
      storageDone = true;
      continue;
    }
    if (/^(natnet\d|macaddress\d|cableconnected\d|nic\d|nictype\d|nicspeed\d|hostonlyadapter\d|bridgeadapter\d|Forwarding\(\d+\)|mtu|sockSnd|sockRcv|tcpWndSnd|tcpWndRcv)$/.test(key)) {
      if (!nicsDone) out.push(...nicLines(vm));
      nicsDone = true;
      continue;
    }
    const set = {
      name: q(vm.name), UUID: q(vm.uuid), hardwareuuid: q(vm.uuid), CfgFile: q(vm.cfgFile),
      SnapFldr: q(join(dir, 'Snapshots')), LogFldr: q(join(dir, 'Logs')), 'BIOS NVRAM File': q(join(dir, `${vm.name}.nvram`)),
      ostype: q(OSTYPES[vm.ostype] ?? vm.ostype), memory: vm.memory, cpus: vm.cpus,
      VMState: q(vm.state === 'stopping' ? 'running' : vm.state), VMStateChangeTime: q(vm.stateChanged.replace('Z', '000000').slice(0, 29)),
      boot1: q(vm.boot[0]), boot2: q(vm.boot[1]), boot3: q(vm.boot[2]), boot4: q(vm.boot[3]),
      uart1: vm.uart ? q('0x03f8,4') : q('off'),
      rec_screen_dest_filename: q(join(dir, `${vm.name}-screen0.webm`)),
    };
    if (key in set) {
      out.push(`${key.includes(' ') ? q(key) : key}=${set[key]}`);
      if (key === 'uart1' && vm.uart) out.push(`uartmode1=${q(`file,${vm.uart}`)}`);
      continue;
    }
    out.push(line);
    if (key === 'xhci') {
      vm.shares.forEach((s, i) => out.push(`SharedFolderNameMachineMapping${i + 1}=${q(s.name)}`, `SharedFolderPathMachineMapping${i + 1}=${q(s.path)}`));
    }
  }
  return out.join('\n');
}

function storageLines(vm) {
  const lines = [];
  vm.controllers.forEach((c, i) => {
    lines.push(
      `storagecontrollername${i}=${q(c.name)}`, `storagecontrollertype${i}=${q(c.type)}`, `storagecontrollerinstance${i}="0"`,
      `storagecontrollermaxportcount${i}="30"`, `storagecontrollerportcount${i}=${q(c.ports)}`, `storagecontrollerbootable${i}="on"`,
    );
  });
  for (const c of vm.controllers) {
    for (let port = 0; port < Number(c.ports); port++) {
      const a = vm.attachments.find((x) => x.ctl === c.name && x.port === port);
      lines.push(`${q(`${c.name}-${port}-0`)}=${q(a ? a.medium : 'none')}`);
      if (a) lines.push(`${q(`${c.name}-ImageUUID-${port}-0`)}=${q(a.uuid)}`);
      if (a?.type === 'dvddrive') lines.push(`${q(`${c.name}-IsEjected`)}="off"`);
    }
  }
  return lines;
}

function nicLines(vm) {
  const lines = [];
  for (let n = 1; n <= 8; n++) {
    const nic = vm.nics[n];
    if (!nic || nic.type === 'none') {
      lines.push(`nic${n}="none"`);
      continue;
    }
    if (nic.type === 'nat') {
      lines.push(`natnet${n}="nat"`, `macaddress${n}=${q(nic.mac)}`, `cableconnected${n}="on"`, `nic${n}="nat"`, `nictype${n}=${q(nic.nictype)}`, `nicspeed${n}="0"`);
      lines.push('mtu="0"', 'sockSnd="64"', 'sockRcv="64"', 'tcpWndSnd="64"', 'tcpWndRcv="64"');
      nic.forwarding.forEach((f, i) => lines.push(`Forwarding(${i})=${q(`${f.name},${f.proto},${f.hostIp},${f.hostPort},${f.guestIp},${f.guestPort}`)}`));
    } else if (nic.type === 'hostonlynet') {
      lines.push(`hostonly-network${n}=${q(nic.network)}`, `macaddress${n}=${q(nic.mac)}`, `cableconnected${n}="on"`, `nic${n}="hostonlynetwork"`, `nictype${n}=${q(nic.nictype)}`, `nicspeed${n}="0"`);
    } else {
      lines.push(`hostonlyadapter${n}=${q(nic.adapter)}`, `macaddress${n}=${q(nic.mac)}`, `cableconnected${n}="on"`, `nic${n}="hostonly"`, `nictype${n}=${q(nic.nictype)}`, `nicspeed${n}="0"`);
    }
  }
  return lines;
}

/** One record of a recorded listing, with values put in by key. */
function record(template, values) {
  return template
    .split('\n')
    .map((line) => {
      const m = /^([^:\s][^:]*):(\s*)(.*)$/.exec(line);
      if (m && m[1] in values) return `${m[1]}:${m[2] || ' '}${values[m[1]]}`;
      if (values['1/legacy'] && /^\s+1\/legacy: /.test(line)) return line.replace(/1\/legacy: .*/, `1/legacy: ${values['1/legacy']}`);
      return line;
    })
    .join('\n');
}
const firstRecord = (text) => text.split(/\n\n(?=\S)/)[0].replace(/\n+$/, '');

function listHostOnlyIfs(state) {
  const tpl = firstRecord(fixture('list-hostonlyifs.txt'));
  return state.hostonlyifs
    .map((i, n) => record(tpl, {
      Name: i.name, GUID: `786f6276-656e-4074-8000-0a00270000${String(n).padStart(2, '0')}`, DHCP: 'Disabled',
      IPAddress: i.ip, NetworkMask: i.mask, HardwareAddress: `0a:00:27:00:00:${String(n).padStart(2, '0')}`,
      Status: 'Up', VBoxNetworkName: `HostInterfaceNetworking-${i.name}`,
    }))
    .join('\n\n') + (state.hostonlyifs.length ? '\n\n' : '');
}

function listHostOnlyNets(state) {
  const tpl = fixture('list-hostonlynets.txt').replace(/\n+$/, '');
  return (state.hostonlynets ?? [])
    .map((n, i) => record(tpl, {
      Name: n.name, GUID: `bc907fa2-e158-4c1b-96fb-63b8765a64${String(i).padStart(2, '0')}`, State: n.enabled ? 'Enabled' : 'Disabled',
      NetworkMask: n.mask, LowerIP: n.lower, UpperIP: n.upper, VBoxNetworkName: `hostonly-${n.name}`,
    }))
    .join('\n\n') + ((state.hostonlynets ?? []).length ? '\n' : '');
}

function listDhcpServers(state) {
  const tpl = firstRecord(fixture('list-dhcpservers.txt'));
  return state.dhcpservers
    .map((d) => record(tpl, {
      NetworkName: d.netname, 'Dhcpd IP': d.ip, LowerIPAddress: d.lower, UpperIPAddress: d.upper,
      NetworkMask: d.mask, Enabled: d.enabled ? 'Yes' : 'No', '1/legacy': d.mask,
    }))
    .join('\n\n') + (state.dhcpservers.length ? '\n' : '');
}

function guestPropertyEnumerate(vm) {
  const props = Object.entries(vm.guestprops ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!props.length) return 'No properties found.\n';
  if (version === '6.1') return props.map(([k, v]) => `Name: ${k}, value: ${v}, timestamp: 1596637864670847000, flags: \n`).join('');
  const width = Math.min(48, Math.max(...props.map(([k]) => k.length)));
  return props.map(([k, v]) => `${k.padEnd(width)} = '${v}' @ 2023-02-04T21:42:09.082Z\n`).join('');
}

// ---------------------------------------------------------------- commands

function opts(args) {
  const o = {};
  const rest = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const [k, inline] = a.slice(2).split(/=(.*)/s);
      if (inline !== undefined) o[k] = inline;
      else if (i + 1 < args.length && !args[i + 1].startsWith('--')) o[k] = args[++i];
      else o[k] = true;
    } else rest.push(a);
  }
  return { o, rest };
}

function findVm(state, ref) {
  const vm = state.vms.find((v) => v.name === ref || v.uuid === ref);
  if (!vm) throw new Fail(fixture('showvminfo-notfound.stderr.txt').replace(/'xtec-4'/, `'${ref}'`));
  return refresh(vm);
}

function locked(vm) {
  if (vm.state === 'running' || vm.state === 'stopping' || vm.state === 'paused') {
    throw new Fail(`VBoxManage: error: The machine '${vm.name}' is already locked for a session (or being unlocked)\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine\n`);
  }
}

function registerMedium(state, path, type) {
  if (state.media.some((m) => m.path === path)) {
    const uuid = state.media.find((m) => m.path === path).uuid;
    throw new Fail(fixture('createmedium-already-exists.stderr.txt').replace(/'\/home\/vboxadm[^']*'/g, `'${path}'`).replace(/\{62ac5db3[^}]*\}/, `{${uuid}}`));
  }
  const uuid = randomUUID();
  state.media.push({ path, type, uuid });
  return uuid;
}

const PROGRESS = '0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n';

function run(argv, state) {
  let args = argv.filter((a) => a !== '-q' && a !== '--nologo');
  if (args[0] === '--version' || args[0] === '-v' || args[0] === '-V') {
    return { stdout: fixture(version === '7.1' ? 'version-logname-warning.txt' : 'version.txt') };
  }
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'list': {
      const what = rest.filter((a) => !a.startsWith('-'))[0];
      if (what === 'vms') return { stdout: state.vms.map((v) => `"${v.name}" {${v.uuid}}\n`).join('') };
      if (what === 'runningvms') return { stdout: state.vms.map(refresh).filter((v) => v.state === 'running').map((v) => `"${v.name}" {${v.uuid}}\n`).join('') };
      if (what === 'hostonlyifs') return { stdout: listHostOnlyIfs(state) };
      if (what === 'dhcpservers') return { stdout: listDhcpServers(state) };
      if (what === 'hostonlynets') {
        if (version === '6.1') throw new Fail(`VBoxManage: error: Unknown subcommand "hostonlynets"\n`, 2);
        return { stdout: listHostOnlyNets(state) };
      }
      if (what === 'hostinfo') {
        const text = fixture('list-hostinfo.txt');
        return { stdout: process.env.FAKE_VBOX_HWVIRT === 'no' ? text.replace('Processor supports HW virtualization: yes', 'Processor supports HW virtualization: no') : text };
      }
      throw new Fail(`VBoxManage: error: Unknown subcommand "${what}"\n`, 2);
    }
    case 'showvminfo': {
      const vm = findVm(state, rest[0]);
      return { stdout: showvminfo(vm) };
    }
    case 'createvm': {
      const { o } = opts(rest);
      if (state.vms.some((v) => v.name === o.name)) {
        throw new Fail(`VBoxManage: error: Machine settings file '${join(o.basefolder, o.name, `${o.name}.vbox`)}' already exists\n`);
      }
      const uuid = randomUUID();
      const cfgFile = join(o.basefolder, o.name, `${o.name}.vbox`);
      mkdirSync(dirname(cfgFile), { recursive: true });
      writeFileSync(cfgFile, `<?xml version="1.0"?>\n<VirtualBox><Machine uuid="{${uuid}}" name="${o.name}"/></VirtualBox>\n`);
      state.vms.push({
        name: o.name, uuid, cfgFile, ostype: o.ostype ?? 'Other', memory: 128, cpus: 1, state: 'poweroff',
        stateChanged: new Date().toISOString(), boot: ['floppy', 'dvd', 'disk', 'none'], uart: '',
        nics: { 1: { type: 'nat', nictype: '82540EM', mac: '080027000001', forwarding: [] } },
        controllers: [], attachments: [], shares: [], extradata: {}, guestprops: {}, container: '', relayPid: 0, ip: '',
      });
      const text = fixture('createvm.txt').replace(/'dn01-vm1'/, `'${o.name}'`).replace(/UUID: \S+/, `UUID: ${uuid}`).replace(/'\/home\/[^']*'/, `'${cfgFile}'`);
      return { stdout: text };
    }
    case 'modifyvm': {
      const vm = findVm(state, rest[0]);
      locked(vm);
      const a = rest.slice(1);
      for (let i = 0; i < a.length; i++) {
        const k = a[i].replace(/^--/, '');
        const v = a[i + 1];
        let m;
        if (k === 'memory') vm.memory = Number(v);
        else if (k === 'cpus') vm.cpus = Number(v);
        else if (k === 'ostype') vm.ostype = v;
        else if ((m = /^boot([1-4])$/.exec(k))) vm.boot[Number(m[1]) - 1] = v;
        else if (k === 'uart1') {
          if (v === 'off') vm.uart = '';
          else i++; // port and IRQ
        } else if (k === 'uartmode1') {
          vm.uart = a[i + 2];
          i++;
        } else if ((m = /^nic(\d)$/.exec(k))) {
          const n = Number(m[1]);
          vm.nics[n] = { ...(vm.nics[n] ?? { mac: `0800270000${String(n).padStart(2, '0')}`, nictype: '82540EM', forwarding: [] }), type: v };
        } else if ((m = /^nictype(\d)$/.exec(k))) (vm.nics[Number(m[1])] ??= { type: 'none', forwarding: [] }).nictype = v;
        else if ((m = /^macaddress(\d)$/.exec(k))) (vm.nics[Number(m[1])] ??= { type: 'none', forwarding: [] }).mac = v;
        else if ((m = /^hostonlyadapter(\d)$/.exec(k))) (vm.nics[Number(m[1])] ??= { type: 'none', forwarding: [] }).adapter = v;
        else if ((m = /^host-only-net(\d)$/.exec(k))) (vm.nics[Number(m[1])] ??= { type: 'none', forwarding: [] }).network = v;
        else if ((m = /^natpf(\d)$/.exec(k))) {
          const nic = vm.nics[Number(m[1])];
          if (v === 'delete') {
            const name = a[i + 2];
            if (!nic.forwarding.some((f) => f.name === name)) throw new Fail(`VBoxManage: error: Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)\n`);
            nic.forwarding = nic.forwarding.filter((f) => f.name !== name);
            i++;
          } else {
            const [name, proto, hostIp, hostPort, guestIp, guestPort] = v.split(',');
            if (nic.forwarding.some((f) => f.name === name)) throw new Fail(`VBoxManage: error: A NAT rule of this name already exists\n`);
            nic.forwarding.push({ name, proto, hostIp, hostPort: Number(hostPort), guestIp, guestPort: Number(guestPort) });
          }
        } else if (/^(nicpromisc|cableconnected|natdnshostresolver|natdnsproxy)\d$/.test(k) || ['firmware', 'acpi', 'ioapic', 'rtcuseutc', 'pae', 'hpet', 'hwvirtex', 'nestedpaging', 'largepages', 'vtxvpid'].includes(k)) {
          vm.extradata[`modifyvm:${k}`] = v;
        } else throw new Fail(`VBoxManage: error: Invalid parameter '${a[i]}'\n`, 2);
        i++;
      }
      return { stdout: '' };
    }
    case 'storagectl': {
      const vm = findVm(state, rest[0]);
      const { o } = opts(rest.slice(1));
      vm.controllers.push({ name: o.name, type: o.add === 'sata' ? 'IntelAhci' : 'PIIX4', ports: String(o.portcount ?? 30) });
      return { stdout: '' };
    }
    case 'storageattach': {
      const vm = findVm(state, rest[0]);
      locked(vm);
      const { o } = opts(rest.slice(1));
      if (!vm.controllers.some((c) => c.name === o.storagectl)) throw new Fail(`VBoxManage: error: Could not find a controller named '${o.storagectl}'\n`);
      if (!existsSync(o.medium)) throw new Fail(`VBoxManage: error: Could not find file for the medium '${o.medium}' (VERR_FILE_NOT_FOUND)\n`);
      const medium = state.media.find((m) => m.path === o.medium);
      const uuid = medium?.uuid ?? registerMedium(state, o.medium, o.type === 'hdd' ? 'disk' : 'dvd');
      vm.attachments = vm.attachments.filter((x) => !(x.ctl === o.storagectl && x.port === Number(o.port)));
      vm.attachments.push({ ctl: o.storagectl, port: Number(o.port), type: o.type, medium: o.medium, uuid });
      return { stdout: '' };
    }
    case 'clonemedium':
    case 'clonehd': {
      const [, src, dst] = rest[0] === 'disk' ? rest : ['disk', ...rest];
      if (!existsSync(src)) throw new Fail(`VBoxManage: error: Could not find file for the medium '${src}' (VERR_FILE_NOT_FOUND)\n`);
      const uuid = registerMedium(state, dst, 'disk');
      copyFileSync(src, dst);
      return { stdout: `Clone medium created in format '${opts(rest).o.format ?? 'VDI'}'. UUID: ${uuid}\n`, stderr: PROGRESS };
    }
    case 'convertfromraw': {
      const [src, dst] = rest;
      if (src === 'stdin') writeFileSync(dst, readFileSync(0));
      else copyFileSync(src, dst);
      return { stdout: `Converting from raw image file="${src}" to file="${dst}"...\nCreating dynamic image with size ${readFileSync(dst).length} bytes (1MB)...\n` };
    }
    case 'modifymedium':
    case 'modifyhd': {
      const path = rest[0] === 'disk' ? rest[1] : rest[0];
      if (!state.media.some((m) => m.path === path)) registerMedium(state, path, 'disk');
      return { stdout: '', stderr: PROGRESS };
    }
    case 'closemedium': {
      const path = ['disk', 'dvd'].includes(rest[0]) ? rest[1] : rest[0];
      const m = state.media.find((x) => x.path === path);
      if (!m) throw new Fail(`VBoxManage: error: Could not find file for the medium '${path}' (VERR_FILE_NOT_FOUND)\n`);
      state.media = state.media.filter((x) => x !== m);
      if (rest.includes('--delete')) rmSync(path, { force: true });
      return { stdout: '', stderr: rest.includes('--delete') ? PROGRESS : '' };
    }
    case 'hostonlyif': {
      if (rest[0] === 'create') {
        let n = 0;
        while (state.hostonlyifs.some((i) => i.name === `vboxnet${n}`) || existsSync(`/sys/class/net/vboxnet${n}`)) n++;
        state.hostonlyifs.push({ name: `vboxnet${n}`, ip: '', mask: '255.255.255.0' });
        return { stdout: fixture('hostonlyif-create.txt').replace(/'vboxnet\d+'/, `'vboxnet${n}'`), stderr: fixture('hostonlyif-create.stderr.txt') };
      }
      if (rest[0] === 'ipconfig') {
        const ifc = state.hostonlyifs.find((i) => i.name === rest[1]);
        if (!ifc) throw new Fail(`VBoxManage: error: Could not find interface '${rest[1]}'\n`);
        const { o } = opts(rest.slice(2));
        // 6.1.28 and later allow only 192.168.56.0/21 unless /etc/vbox/networks.conf says more.
        if (process.env.FAKE_VBOX_NETWORKS_CONF === 'default' && !(toInt(o.ip) >= toInt('192.168.56.0') && toInt(o.ip) < toInt('192.168.64.0'))) {
          throw new Fail(fixture('hostonlyif-ipconfig-accessdenied.stderr.txt'));
        }
        ifc.ip = o.ip;
        ifc.mask = o.netmask ?? '255.255.255.0';
        return { stdout: '' };
      }
      if (rest[0] === 'remove') {
        state.hostonlyifs = state.hostonlyifs.filter((i) => i.name !== rest[1]);
        tryDocker(['network', 'rm', `${LABEL}-${rest[1]}`]);
        return { stdout: '', stderr: PROGRESS };
      }
      throw new Fail(`VBoxManage: error: Invalid parameter '${rest[0]}'\n`, 2);
    }
    case 'hostonlynet': {
      const { o } = opts(rest.slice(1));
      state.hostonlynets ??= [];
      const cur = state.hostonlynets.find((n) => n.name === o.name);
      if (rest[0] === 'add') {
        if (cur) throw new Fail(`VBoxManage: error: Host-only network '${o.name}' already exists\n`);
        state.hostonlynets.push({ name: o.name, mask: o.netmask, lower: o['lower-ip'], upper: o['upper-ip'], enabled: Boolean(o.enable) });
        return { stdout: '' };
      }
      if (rest[0] === 'modify' && cur) {
        if (o.enable) cur.enabled = true;
        if (o.disable) cur.enabled = false;
        return { stdout: '' };
      }
      throw new Fail(`VBoxManage: error: Invalid parameter '${rest[0]}'\n`, 2);
    }
    case 'dhcpserver': {
      const { o } = opts(rest.slice(1));
      const netname = o.netname ?? `HostInterfaceNetworking-${o.ifname}`;
      const cur = state.dhcpservers.find((d) => d.netname === netname);
      if (rest[0] === 'add') {
        if (cur) throw new Fail(fixture('dhcpserver-add-already-exists.stderr.txt'));
        state.dhcpservers.push({ netname, ip: o.ip, mask: o.netmask, lower: o.lowerip, upper: o.upperip, enabled: Boolean(o.enable) });
      } else if (rest[0] === 'modify') {
        if (!cur) throw new Fail(`VBoxManage: error: DHCP server does not exist\n`);
        Object.assign(cur, { ip: o.ip ?? cur.ip, mask: o.netmask ?? cur.mask, lower: o.lowerip ?? cur.lower, upper: o.upperip ?? cur.upper, enabled: o.enable ? true : o.disable ? false : cur.enabled });
      } else if (rest[0] === 'remove') {
        state.dhcpservers = state.dhcpservers.filter((d) => d !== cur);
      }
      return { stdout: '' };
    }
    case 'sharedfolder': {
      const vm = findVm(state, rest[1]);
      const { o } = opts(rest.slice(2));
      vm.shares.push({ name: o.name, path: o.hostpath });
      return { stdout: '' };
    }
    case 'setextradata': {
      const vm = findVm(state, rest[0]);
      vm.extradata[rest[1]] = rest[2];
      return { stdout: '' };
    }
    case 'guestproperty': {
      const vm = findVm(state, rest[1]);
      if (rest[0] === 'get') {
        const v = vm.guestprops?.[rest[2]];
        return { stdout: v === undefined ? fixture('guestproperty-get-novalue.txt') : `Value: ${v}\n` };
      }
      if (rest[0] === 'enumerate') return { stdout: guestPropertyEnumerate(vm) };
      if (rest[0] === 'set') {
        vm.guestprops[rest[2]] = rest[3];
        return { stdout: '' };
      }
      throw new Fail(`VBoxManage: error: Invalid parameter '${rest[0]}'\n`, 2);
    }
    case 'startvm': {
      const vm = findVm(state, rest[0]);
      const waiting = fixture('startvm-headless.txt').split('\n')[0].replace(/"CentOS-7-x64"/, `"${vm.name}"`) + '\n';
      if (vm.state === 'running') throw new Fail(`VBoxManage: error: The machine '${vm.name}' is already locked by a session (or being locked or unlocked)\n`);
      if (process.env.FAKE_VBOX_HWVIRT === 'no') throw new Fail(fixture('startvm-vtx-disabled-windows.stderr.txt'), 1, waiting);
      boot(vm, state);
      vm.state = 'running';
      vm.stateChanged = new Date().toISOString();
      return { stdout: fixture('startvm-headless.txt').replace(/"CentOS-7-x64"/g, `"${vm.name}"`) };
    }
    case 'controlvm': {
      const vm = findVm(state, rest[0]);
      if (vm.state !== 'running' && vm.state !== 'paused' && vm.state !== 'stopping') {
        throw new Fail(`VBoxManage: error: Machine '${vm.name}' is not currently running\n`);
      }
      if (rest[1] === 'poweroff') {
        tryDocker(['kill', vm.container]);
        stopRelay(vm);
        vm.state = 'poweroff';
        vm.stateChanged = new Date().toISOString();
        return { stdout: fixture('controlvm-poweroff.txt'), stderr: fixture('controlvm-poweroff.stderr.txt') };
      }
      if (rest[1] === 'acpipowerbutton') {
        // The guest shuts itself down in its own time; the state says so once it has.
        spawn('docker', ['-H', dockerHost, 'stop', '-t', '60', vm.container], { detached: true, stdio: 'ignore' }).unref();
        vm.state = 'stopping';
        return { stdout: '' };
      }
      if (rest[1] === 'pause') {
        docker(['pause', vm.container]);
        vm.state = 'paused';
        return { stdout: '' };
      }
      if (rest[1] === 'resume') {
        docker(['unpause', vm.container]);
        vm.state = 'running';
        return { stdout: '' };
      }
      throw new Fail(`VBoxManage: error: Invalid parameter '${rest[1]}'\n`, 2);
    }
    case 'unregistervm': {
      const vm = findVm(state, rest[0]);
      if (vm.state !== 'poweroff' && vm.state !== 'aborted' && vm.state !== 'saved') {
        throw new Fail(`VBoxManage: error: Cannot unregister the machine '${vm.name}' while it is locked\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine\n`);
      }
      if (vm.container) tryDocker(['rm', '-f', '-v', vm.container]);
      stopRelay(vm);
      state.vms = state.vms.filter((v) => v !== vm);
      // Attached media were in the VM's own media registry, which goes with it.
      const attached = new Set(vm.attachments.map((a) => a.medium));
      state.media = state.media.filter((m) => !attached.has(m.path));
      if (rest.includes('--delete')) {
        // Deletes the settings and the VM's hard disks, not DVD images.
        for (const a of vm.attachments.filter((x) => x.type === 'hdd')) rmSync(a.medium, { force: true });
        rmSync(dirname(vm.cfgFile), { recursive: true, force: true });
        return { stdout: '', stderr: PROGRESS };
      }
      return { stdout: '' };
    }
    default:
      throw new Fail(`VBoxManage: error: Unknown command '${cmd}'\n`, 2);
  }
}

// ---------------------------------------------------------------- main

if (process.argv[2] === '--fake-relay') {
  relay(process.argv[3], process.argv[4], process.argv[5]);
} else {
  if (!home) {
    process.stderr.write('fake VBoxManage: FAKE_VBOX_HOME is not set\n');
    process.exit(2);
  }
  mkdirSync(home, { recursive: true });
  const argv = process.argv.slice(2);
  appendFileSync(join(home, 'calls.jsonl'), JSON.stringify(argv) + '\n');
  const unlock = lock();
  let code = 0;
  try {
    const state = load();
    try {
      const out = run(argv, state);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      if (err.stdout) process.stdout.write(err.stdout);
      process.stderr.write(err.stderr);
      code = err.code;
    }
    save(state);
  } finally {
    unlock();
  }
  process.exitCode = code;
}
