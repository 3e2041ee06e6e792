import { buildIso } from './iso9660.js';

export interface SeedInput {
  hostname: string;
  user: string;
  publicKey: string;
  /** The user's own user-data (cloud-config or a script), added as a second part. */
  userData?: string;
  /** NICs by MAC: the first gets DHCP, the second a static address on the shared segment. */
  nics: Array<{ mac: string; address?: string }>;
}

function cloudConfig(input: SeedInput): string {
  return [
    '#cloud-config',
    `hostname: ${input.hostname}`,
    'users:',
    `  - name: ${input.user}`,
    '    sudo: "ALL=(ALL) NOPASSWD:ALL"',
    '    shell: /bin/bash',
    '    lock_passwd: true',
    // An image with Docker preinstalled has a "docker" group already: useradd would refuse
    // to make the user's own group of that name.
    '    no_user_group: true',
    '    ssh_authorized_keys:',
    `      - ${input.publicKey}`,
    'ssh_pwauth: false',
    // RSA host keys take seconds to make in an emulated CPU; ed25519 is enough.
    'ssh_genkeytypes: [ed25519]',
    '',
  ].join('\n');
}

/** cloud-init merges the parts of a MIME multipart user-data in order. */
function multipart(parts: Array<{ type: string; body: string }>): string {
  const boundary = '==MACHINE-BOUNDARY==';
  const out = [`Content-Type: multipart/mixed; boundary="${boundary}"`, 'MIME-Version: 1.0', ''];
  for (const p of parts) {
    out.push(`--${boundary}`, `Content-Type: ${p.type}; charset="us-ascii"`, 'MIME-Version: 1.0', '', p.body);
  }
  out.push(`--${boundary}--`, '');
  return out.join('\n');
}

export function seedFiles(input: SeedInput): Array<{ name: string; data: Buffer }> {
  const ours = cloudConfig(input);
  const extra = input.userData?.trim();
  const userData = extra
    ? multipart([
        { type: 'text/cloud-config', body: ours },
        { type: extra.startsWith('#!') ? 'text/x-shellscript' : 'text/cloud-config', body: extra + '\n' },
      ])
    : ours;
  const network = ['version: 2', 'ethernets:'];
  input.nics.forEach((nic, i) => {
    network.push(`  nic${i}:`, '    match:', `      macaddress: "${nic.mac}"`, `    set-name: eth${i}`);
    if (nic.address) network.push(`    addresses: [${nic.address}]`);
    else network.push('    dhcp4: true');
  });
  return [
    { name: 'meta-data', data: Buffer.from(`instance-id: machine-${input.hostname}\nlocal-hostname: ${input.hostname}\n`) },
    { name: 'user-data', data: Buffer.from(userData) },
    { name: 'network-config', data: Buffer.from(network.join('\n') + '\n') },
  ];
}

/** The NoCloud seed: an ISO 9660 volume labelled "cidata". */
export function buildSeed(input: SeedInput): Buffer {
  return buildIso('cidata', seedFiles(input));
}
