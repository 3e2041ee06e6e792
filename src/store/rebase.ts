import { dirname } from 'node:path';
import type { HostConfig } from './schema.js';

/**
 * A store that was moved (or written on another machine, like the Docker Machine fixtures
 * under /home/user) keeps absolute paths to its old root. Paths under that old root are
 * rewritten onto where the store lives now; paths outside it (a user's own SSH key) stay.
 */
export function rebaseStorePaths(config: HostConfig, root: string): HostConfig {
  const oldRoot = findOldRoot(config);
  if (!oldRoot || oldRoot === root) return config;
  const rebase = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (value === oldRoot) return root;
      if (value.startsWith(oldRoot + '/')) return root + value.slice(oldRoot.length);
      return value;
    }
    if (Array.isArray(value)) return value.map(rebase);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rebase(v)]));
    }
    return value;
  };
  return {
    ...config,
    Driver: rebase(config.Driver) as HostConfig['Driver'],
    HostOptions: {
      ...config.HostOptions,
      AuthOptions: rebase(config.HostOptions.AuthOptions) as HostConfig['HostOptions']['AuthOptions'],
    },
  };
}

function findOldRoot(config: HostConfig): string | undefined {
  if (config.Driver.StorePath) return config.Driver.StorePath;
  const auth = config.HostOptions.AuthOptions;
  // AuthOptions.StorePath is <root>/machines/<name>
  if (auth.StorePath) return dirname(dirname(auth.StorePath));
  if (auth.CertDir) return dirname(auth.CertDir);
  return undefined;
}
