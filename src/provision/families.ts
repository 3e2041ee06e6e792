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
  /**
   * Every name the engine is packaged under on this family, Docker's and the distribution's.
   * Only those installed are upgraded: asked for by a name it does not know, apt fails.
   */
  enginePackages: string[];
  /** Shell that prints which of the given packages are installed, one a line (exit 0). */
  installed(packages: string[]): string;
  /** Shell that upgrades the given installed packages non-interactively, installing nothing new. */
  upgrade(packages: string[]): string;
  /**
   * The package with apparmor_parser, where the family uses AppArmor. dockerd loads its
   * container profile with it whenever the kernel has AppArmor on; without it no container
   * starts ("apparmor_parser": executable file not found), and docker.io only recommends it.
   */
  apparmorPackage?: string;
}

/** One package at a time: each answer is an exit status, whatever the tool prints about names it does not know. */
const eachInstalled = (test: string) => (pkgs: string[]) => `for p in ${pkgs.join(' ')}; do ${test} && echo "$p"; done; true`;
const rpmInstalled = eachInstalled(`rpm -q "$p" >/dev/null 2>&1`);

const debian: OsFamily = {
  name: 'debian',
  apparmorPackage: 'apparmor',
  // One update first: fresh images often have empty lists. no-install-recommends keeps
  // the install small (it saves ~90 s in a TCG guest).
  install: (pkgs) =>
    `export DEBIAN_FRONTEND=noninteractive; (apt-get update -qq || true) && apt-get install -y -qq --no-install-recommends ${pkgs.join(' ')}`,
  distroEngine: () => ['docker.io'],
  prerequisites: ['curl', 'ca-certificates'],
  enginePackages: ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker.io'],
  // "rc" (removed, config kept) is not installed: only Status "install ok installed" is.
  installed: eachInstalled(`dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q ' installed$'`),
  // Fresh lists, or --only-upgrade finds nothing newer; a conffile the admin changed is kept
  // instead of a prompt no one can answer.
  upgrade: (pkgs) =>
    `export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --only-upgrade -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${pkgs.join(' ')}`,
};

const redhat: OsFamily = {
  name: 'redhat',
  install: (pkgs) => `(command -v dnf >/dev/null && dnf install -y -q ${pkgs.join(' ')}) || yum install -y -q ${pkgs.join(' ')}`,
  distroEngine: (os) => (os['ID'] === 'fedora' ? ['moby-engine'] : os['ID'] === 'amzn' ? ['docker'] : ['docker']),
  prerequisites: ['curl'],
  enginePackages: ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker', 'moby-engine'],
  installed: rpmInstalled,
  // yum only where there is no dnf: a failed dnf upgrade is an answer, not a reason to try yum.
  upgrade: (pkgs) => `if command -v dnf >/dev/null 2>&1; then dnf upgrade -y -q ${pkgs.join(' ')}; else yum update -y -q ${pkgs.join(' ')}; fi`,
};

const suse: OsFamily = {
  name: 'suse',
  apparmorPackage: 'apparmor-parser',
  install: (pkgs) => `zypper --non-interactive install --no-recommends ${pkgs.join(' ')}`,
  distroEngine: () => ['docker'],
  prerequisites: ['curl'],
  enginePackages: ['docker', 'docker-ce', 'docker-ce-cli', 'containerd.io'],
  installed: rpmInstalled,
  upgrade: (pkgs) => `zypper --non-interactive update --no-recommends ${pkgs.join(' ')}`,
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
  if (os['ID'] === 'boot2docker') {
    throw new ProvisionError(
      `${os['PRETTY_NAME'] || 'boot2docker'} is retired and machine does not provision it: its engine keeps the configuration Docker Machine gave it; make a new machine from a cloud image to manage the engine`,
    );
  }
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
