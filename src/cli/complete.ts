// Shell completion. The scripts `machine completion SHELL` prints are thin: each asks
// `machine __complete INDEX WORD...` for the candidates of word INDEX, so commands, flags
// (a driver's own too) and machine names are known in one place, this one.
import { readdirSync } from 'node:fs';
import type { OptionSpecs } from './args.js';
import { commands, globalOptions } from './run.js';
import { openStore } from '../host/host.js';

/** Commands whose positional arguments are machine names. */
const TAKES_MACHINES = new Set([
  'active', 'config', 'env', 'inspect', 'ip', 'kill', 'port-forward', 'provision', 'regenerate-certs', 'restart', 'rm',
  'ssh', 'scp', 'start', 'status', 'stop', 'upgrade', 'url', 'use', 'version', 'accept-host-key', 'mount',
]);

function flagsOf(specs: OptionSpecs): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(specs)) {
    out.push(`--${name}`);
    if (s.short) out.push(`-${s.short}`);
  }
  return out;
}

async function machineNames(words: string[]): Promise<string[]> {
  const i = words.findIndex((w) => w === '-s' || w === '--storage-path');
  try {
    return readdirSync(openStore(i >= 0 ? words[i + 1] : undefined).machinesDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** The candidates for words[index] (words[0] is the program), filtered by what is typed so far. */
export async function complete(index: number, words: string[]): Promise<string[]> {
  const current = words[index] ?? '';
  const before = words.slice(1, index);
  const cmdAt = before.findIndex((w, i) => !w.startsWith('-') && !(i > 0 && /^(-s|--storage-path|--tls-[a-z-]+)$/.test(before[i - 1]!)));
  const pick = (all: string[]) => [...new Set(all)].filter((c) => c.startsWith(current)).sort();
  if (cmdAt < 0) {
    if (current.startsWith('-')) return pick(flagsOf(globalOptions));
    return pick(commands.filter((c) => !c.name.startsWith('_')).map((c) => c.name));
  }
  const name = before[cmdAt]!;
  const entry = commands.find((c) => c.name === name || c.aliases?.includes(name));
  if (!entry) return [];
  const cmd = (await entry.load()).default;
  const args = before.slice(cmdAt + 1);
  const prev = before.at(-1);
  if (name === 'completion') return pick(['bash', 'zsh', 'fish']);
  if ((name === 'create' || (name === 'swarm' && args[0] === 'create')) && (prev === '-d' || prev === '--driver')) {
    const { builtinDriverNames, discoverPlugins } = await import('../host/drivers.js');
    return pick([...builtinDriverNames(), ...discoverPlugins().map((p) => p.name)]);
  }
  if (current.startsWith('-')) {
    const specs = cmd.resolveOptions ? await cmd.resolveOptions(args).catch(() => cmd.options) : cmd.options;
    return pick(flagsOf(specs));
  }
  if (name === 'swarm' && args.length === 0) return pick(['create', 'ls', 'inspect', 'rm']);
  if (name === 'mount' || name === 'scp') return pick((await machineNames(words)).map((m) => `${m}:`));
  if (TAKES_MACHINES.has(name)) return pick(await machineNames(words));
  return [];
}

/** The script for a shell; `prog` is the name the user types (machine, or docker-machine). */
export function completionScript(shell: string, prog: string): string {
  const fn = `_${prog.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  switch (shell) {
    case 'bash':
      return [
        `# ${prog} completion for bash: eval "$(${prog} completion bash)" in ~/.bashrc`,
        `${fn}() {`,
        `  local IFS=$'\\n'`,
        `  COMPREPLY=($("$1" __complete "$COMP_CWORD" "\${COMP_WORDS[@]}" 2>/dev/null))`,
        `}`,
        `complete -o default -F ${fn} ${prog}`,
        '',
      ].join('\n');
    case 'zsh':
      return [
        `#compdef ${prog}`,
        `# ${prog} completion for zsh: eval "$(${prog} completion zsh)" in ~/.zshrc (after compinit)`,
        `${fn}() {`,
        `  local -a candidates`,
        `  candidates=("\${(@f)$(${prog} __complete $((CURRENT - 1)) "\${words[@]}" 2>/dev/null)}")`,
        `  compadd -Q -- "\${candidates[@]}"`,
        `}`,
        `compdef ${fn} ${prog}`,
        '',
      ].join('\n');
    case 'fish':
      return [
        `# ${prog} completion for fish: ${prog} completion fish > ~/.config/fish/completions/${prog}.fish`,
        `complete -c ${prog} -f -a '(set -l w (commandline -opc); ${prog} __complete (count $w) $w (commandline -ct) 2>/dev/null)'`,
        '',
      ].join('\n');
    default:
      return '';
  }
}
