// The user's home and the CPU count, without loading node:os where it can be avoided: node:os
// is not in Node's start-up snapshot, and loading it cost every command 0.25 ms (`env` spends
// about 7 ms over a bare node in all).

/** As os.homedir() answers it: HOME when set and not empty (libuv reads it first), else the password database. */
export function homeDir(): string {
  return process.env.HOME || process.getBuiltinModule('node:os').homedir();
}

/** os.availableParallelism(), asked once. */
let cpus: number | undefined;
export function cpuCount(): number {
  return (cpus ??= process.getBuiltinModule('node:os').availableParallelism());
}
