import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Why Go programs cannot be built here, or '' when they can. */
export const goMissing = (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'go')))
  ? ''
  : 'go is not installed (scripts/test-deps.sh installs golang-go as root)';

/**
 * Builds a one-file Go program (standard library only, no network) once per source
 * version, under the test cache, and returns the binary's path.
 */
export function buildGo(name: string, source: string): string {
  const cache = join(homedir(), '.cache', 'machine-test');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(cache, name, hash);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.go'), source);
  const tmp = `${bin}.${process.pid}.tmp`;
  execFileSync('go', ['build', '-o', tmp, 'main.go'], {
    cwd: dir,
    env: { ...process.env, GOCACHE: join(cache, 'go-build'), GOPATH: join(cache, 'gopath'), GO111MODULE: 'off', GOFLAGS: '', GOTOOLCHAIN: 'local', GOPROXY: 'off', CGO_ENABLED: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  renameSync(tmp, bin);
  return bin;
}
