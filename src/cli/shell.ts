import { basename } from 'node:path';
import { UsageError, progName } from '../errors.js';

export const SHELLS = ['bash', 'sh', 'zsh', 'fish', 'powershell', 'cmd', 'tcsh', 'csh', 'emacs'] as const;
export type ShellName = (typeof SHELLS)[number];

export function detectShell(flag: string): ShellName {
  if (flag) {
    if (!(SHELLS as readonly string[]).includes(flag)) {
      throw new UsageError(`Unknown shell "${flag}": use one of ${SHELLS.join(', ')}`);
    }
    return flag as ShellName;
  }
  const sh = basename(process.env.SHELL ?? '');
  if ((SHELLS as readonly string[]).includes(sh)) return sh as ShellName;
  return process.platform === 'win32' ? 'powershell' : 'bash';
}

/** How each shell sets and unsets a variable, and the hint line that evaluates our output. */
export function shellSyntax(shell: ShellName, argsForHint: string): {
  set: (k: string, v: string) => string;
  unset: (k: string) => string;
  hint: string;
} {
  const p = progName();
  switch (shell) {
    case 'fish':
      return {
        set: (k, v) => `set -gx ${k} "${v}";`,
        unset: (k) => `set -e ${k};`,
        hint: `# Run this command to configure your shell: \n# eval (${p} ${argsForHint})`,
      };
    case 'powershell':
      return {
        set: (k, v) => `$Env:${k} = "${v}"`,
        unset: (k) => `Remove-Item Env:\\\\${k}`,
        hint: `# Run this command to configure your shell: \n# & "${p}" ${argsForHint} | Invoke-Expression`,
      };
    case 'cmd':
      return {
        set: (k, v) => `SET ${k}=${v}`,
        unset: (k) => `SET ${k}=`,
        hint: `REM Run this command to configure your shell: \nREM \t@FOR /f "tokens=*" %i IN ('"${p}" ${argsForHint}') DO @%i`,
      };
    case 'emacs':
      return {
        set: (k, v) => `(setenv "${k}" "${v}")`,
        unset: (k) => `(setenv "${k}" nil)`,
        hint: `;; Run this command to configure your shell: \n;; (with-temp-buffer (shell-command "${p} ${argsForHint}" (current-buffer)) (eval-buffer))`,
      };
    case 'tcsh':
    case 'csh':
      return {
        set: (k, v) => `setenv ${k} "${v}";`,
        unset: (k) => `unsetenv ${k};`,
        hint: `# Run this command to configure your shell: \n# eval \`${p} ${argsForHint}\``,
      };
    default:
      return {
        set: (k, v) => `export ${k}="${v}"`,
        unset: (k) => `unset ${k}`,
        hint: `# Run this command to configure your shell: \n# eval $(${p} ${argsForHint})`,
      };
  }
}
