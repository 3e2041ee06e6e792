// The user's home and the CPU count, without loading node:os where it can be avoided: node:os
// is not in Node's start-up snapshot, and loading it cost every command 0.25 ms.

/** As os.homedir() answers it: HOME when set and not empty (libuv reads it first), else the password database. */
export function homeDir(): string {
  return process.env.HOME || process.getBuiltinModule('node:os').homedir();
}

let cpus: number | undefined;
/** os.availableParallelism(), asked once. */
export function cpuCount(): number {
  return (cpus ??= process.getBuiltinModule('node:os').availableParallelism());
}
