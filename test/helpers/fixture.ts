import { chmod, cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempStore } from './cli.js';

/** The store Docker Machine 0.16.2 wrote (drivers-test-fixtures/docker-machine-0.16.2-store.SOURCES.md). */
export const legacyFixture = join(import.meta.dirname, '..', '..', 'drivers-test-fixtures', 'docker-machine-0.16.2-store');

/** A writable copy of the fixture store, with the modes a user's store has. */
export async function copyLegacyStore(root?: string): Promise<string> {
  return copyStoreFixture(legacyFixture, root ?? (await tempStore()));
}

/** A writable copy of a fixture store at dest: folders 0700, files 0600, as in a user's store. */
export async function copyStoreFixture(fixture: string, dest: string): Promise<string> {
  await cp(fixture, dest, { recursive: true });
  const fix = async (dir: string) => {
    await chmod(dir, 0o700);
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await fix(join(dir, e.name));
      else await chmod(join(dir, e.name), 0o600);
    }
  };
  await fix(dest);
  return dest;
}
