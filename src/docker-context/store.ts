// The docker CLI's own context store, in its format, so that `docker context ls/use` and every
// docker command see machine's contexts as their own (drivers-test-fixtures/docker-context
// holds what docker 28 writes, with its source):
//   $DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json   {Name, Metadata, Endpoints.docker}
//   $DOCKER_CONFIG/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem   (0600)
//   $DOCKER_CONFIG/config.json                              "currentContext": name
// DOCKER_CONFIG defaults to ~/.docker. Every write is an atomic rename: the docker CLI takes
// no lock, so a reader never sees half a file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homeDir } from '../os-facts.js';
import { join } from 'node:path';
import { MachineError } from '../errors.js';
import { writeFileAtomic } from '../sys/atomic.js';

export function dockerConfigDir(): string {
  return process.env.DOCKER_CONFIG || join(homeDir(), '.docker');
}

// node:crypto and node:fs/promises (which brings readline) load only when used: `ls` and
// `active` read the current context's name on every run, and with those two loaded up front
// that read cost `ls` about 4 ms.
const dirKey = (name: string) => process.getBuiltinModule('node:crypto').createHash('sha256').update(name).digest('hex');
const fsp = () => import('node:fs/promises');
const metaPath = (name: string) => join(dockerConfigDir(), 'contexts', 'meta', dirKey(name), 'meta.json');
const tlsDir = (name: string) => join(dockerConfigDir(), 'contexts', 'tls', dirKey(name));
const configPath = () => join(dockerConfigDir(), 'config.json');

export interface ContextTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface DockerContext {
  name: string;
  description: string;
  /** Extra metadata fields: the docker CLI keeps and shows them (machine marks its own here). */
  fields: Record<string, string>;
  host: string;
  tls?: ContextTls;
}

interface MetaFile {
  Name: string;
  Metadata?: Record<string, unknown>;
  Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
}

/** A context as stored, or undefined when there is none by that name. */
export function readContext(name: string): { name: string; metadata: Record<string, unknown>; host: string } | undefined {
  const file = metaPath(name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const meta = JSON.parse(text) as MetaFile;
    return { name: meta.Name, metadata: meta.Metadata ?? {}, host: meta.Endpoints?.docker?.Host ?? '' };
  } catch {
    throw new MachineError(`The docker context file ${file} is not valid JSON: remove the context with "docker context rm ${name}"`);
  }
}

export async function writeContext(ctx: DockerContext): Promise<void> {
  // TLS files first, then the meta that names the endpoint: a reader in between sees the old
  // endpoint with the new files, which only ever differ after the CA was replaced.
  const tls = join(tlsDir(ctx.name), 'docker');
  if (ctx.tls) {
    await (await fsp()).mkdir(tls, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(tls, 'ca.pem'), ctx.tls.ca, 0o600);
    await writeFileAtomic(join(tls, 'cert.pem'), ctx.tls.cert, 0o600);
    await writeFileAtomic(join(tls, 'key.pem'), ctx.tls.key, 0o600);
  }
  const meta: MetaFile = {
    Name: ctx.name,
    Metadata: { Description: ctx.description, ...ctx.fields },
    Endpoints: { docker: { Host: ctx.host, SkipTLSVerify: false } },
  };
  await (await fsp()).mkdir(join(metaPath(ctx.name), '..'), { recursive: true, mode: 0o755 });
  await writeFileAtomic(metaPath(ctx.name), JSON.stringify(meta), 0o644);
  // An SSH endpoint has no TLS files; ones left from a TLS endpoint would be used.
  if (!ctx.tls) await (await fsp()).rm(tlsDir(ctx.name), { recursive: true, force: true });
}

export async function removeContext(name: string): Promise<void> {
  const { rm } = await fsp();
  await rm(join(metaPath(name), '..'), { recursive: true, force: true });
  await rm(tlsDir(name), { recursive: true, force: true });
}

function readConfig(): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(configPath(), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const cfg = JSON.parse(text) as unknown;
    if (cfg && typeof cfg === 'object' && !Array.isArray(cfg)) return cfg as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new MachineError(`The docker CLI's ${configPath()} is not a JSON object: fix or remove it, then try again`);
}

/** The context docker commands use when neither DOCKER_HOST nor DOCKER_CONTEXT say otherwise ('' is "default"). */
export function currentContext(): string {
  const c = readConfig()['currentContext'];
  return typeof c === 'string' && c !== 'default' ? c : '';
}

/** Makes name current ('' goes back to "default"), keeping the rest of config.json as it was. */
export async function setCurrentContext(name: string): Promise<void> {
  const cfg = readConfig();
  if (name) cfg['currentContext'] = name;
  else delete cfg['currentContext'];
  const file = configPath();
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
  await (await fsp()).mkdir(dockerConfigDir(), { recursive: true, mode: 0o700 });
  // The docker CLI indents with tabs; keep its look for users who read the file.
  await writeFileAtomic(file, `${JSON.stringify(cfg, null, '\t')}\n`, mode);
}
