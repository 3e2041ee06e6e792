import { ProvisionError } from '../errors.js';

/** How one family of distributions installs packages and names its own engine package. */
export interface OsFamily {
  readonly name: 'debian' | 'redhat' | 'suse';
  /** Shell that installs the given packages non-interactively. */
  install(packages: string[]): string;
  /** The distribution's own engine package(s), for `--engine-install-url distro`. */
  distroEngine(os: Record<string, string>): string[];
  /** What the get.docker.com script or the engine needs first (curl to fetch it). */
  prerequisites: string[];
}

const debian: OsFamily = {
  name: 'debian',
  // One update first: fresh images often have empty lists. no-install-recommends keeps
  // the install small (it saves ~90 s in a TCG guest).
  install: (pkgs) =>
    `export DEBIAN_FRONTEND=noninteractive; (apt-get update -qq || true) && apt-get install -y -qq --no-install-recommends ${pkgs.join(' ')}`,
  distroEngine: () => ['docker.io'],
  prerequisites: ['curl', 'ca-certificates'],
};

const redhat: OsFamily = {
  name: 'redhat',
  install: (pkgs) => `(command -v dnf >/dev/null && dnf install -y -q ${pkgs.join(' ')}) || yum install -y -q ${pkgs.join(' ')}`,
  distroEngine: (os) => (os['ID'] === 'fedora' ? ['moby-engine'] : os['ID'] === 'amzn' ? ['docker'] : ['docker']),
  prerequisites: ['curl'],
};

const suse: OsFamily = {
  name: 'suse',
  install: (pkgs) => `zypper --non-interactive install --no-recommends ${pkgs.join(' ')}`,
  distroEngine: () => ['docker'],
  prerequisites: ['curl'],
};

const BY_ID: Record<string, OsFamily> = {
  debian,
  ubuntu: debian,
  raspbian: debian,
  linuxmint: debian,
  pop: debian,
  rhel: redhat,
  centos: redhat,
  rocky: redhat,
  almalinux: redhat,
  fedora: redhat,
  amzn: redhat,
  ol: redhat,
  opensuse: suse,
  'opensuse-leap': suse,
  'opensuse-tumbleweed': suse,
  sles: suse,
  suse: suse,
};

/** Picks the family from ID, then from ID_LIKE; an unknown OS is a clear error. */
export function detectFamily(os: Record<string, string>): OsFamily {
  const ids = [os['ID'] ?? '', ...(os['ID_LIKE'] ?? '').split(/\s+/)].filter(Boolean);
  for (const id of ids) {
    const family = BY_ID[id.toLowerCase()];
    if (family) return family;
  }
  const pretty = os['PRETTY_NAME'] || os['ID'] || 'unknown';
  throw new ProvisionError(
    `Unsupported operating system "${pretty}" (ID=${os['ID'] ?? '?'}): machine provisions Debian, Ubuntu, RHEL, CentOS Stream, Rocky, Alma, Fedora, Amazon Linux, openSUSE and SLES; for another OS install Docker yourself and use "-d none --url"`,
  );
}
