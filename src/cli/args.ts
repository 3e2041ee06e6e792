import { parseArgs } from 'node:util';
import { UsageError, progName } from '../errors.js';

/**
 * A flag the command does not have. It carries the flags it does have, so that the CLI can
 * add the closest one to the line (the suggester loads only then, never on a good run).
 */
export class UnknownFlagError extends UsageError {
  constructor(
    readonly flag: string,
    readonly known: string[],
    readonly command: string,
  ) {
    super(UnknownFlagError.line(flag, command, ''));
  }

  private static line(flag: string, command: string, hint: string): string {
    return `flag provided but not defined: ${flag}${hint ? `.${hint}` : ''} (see "${progName()}${command ? ` ${command}` : ''} --help")`;
  }

  async withSuggestion(): Promise<string> {
    if (!this.flag.startsWith('--')) return this.message;
    const { didYouMean } = await import('./suggest.js');
    return UnknownFlagError.line(this.flag, this.command, didYouMean(this.flag.slice(2).split('=')[0]!, this.known, (c) => `--${c}`));
  }
}

/** One command-line option, with what `help` prints for it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  description: string;
  default?: string | boolean | string[];
  env?: string;
  placeholder?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  values: ParsedValues;
  positionals: string[];
  /** What followed `--` or, with stopAtPositional, everything after the first positional. */
  rest: string[];
}

/**
 * node:util's parseArgs with Docker Machine's habits: env var fallbacks, Go's error text
 * for unknown flags, and an optional stop after the first positional (for `ssh NAME cmd`).
 */
export function parseCommand(
  command: string,
  args: string[],
  specs: OptionSpecs,
  opts: { stopAtPositional?: number } = {},
): Parsed {
  let head = args;
  let rest: string[] = [];
  if (opts.stopAtPositional !== undefined) {
    const cut = positionalCut(args, specs, opts.stopAtPositional);
    head = args.slice(0, cut);
    rest = args.slice(cut);
    if (rest[0] === '--') rest = rest.slice(1);
  } else {
    const dd = args.indexOf('--');
    if (dd >= 0) {
      head = args.slice(0, dd);
      rest = args.slice(dd + 1);
    }
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  // A negative number is a value, not a flag (`--virtualbox-cpu-count -1`, as Go's flag
  // package reads it); Node's parser would call it ambiguous.
  const valued = new Set<string>();
  for (const [name, s] of Object.entries(specs)) {
    if (s.type !== 'string') continue;
    valued.add(`--${name}`);
    if (s.short) valued.add(`-${s.short}`);
  }
  const joined: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const a = head[i]!;
    const next = head[i + 1];
    if (valued.has(a) && next !== undefined && /^-\d/.test(next)) {
      const long = a.startsWith('--') ? a : `--${Object.entries(specs).find(([, s]) => `-${s.short}` === a)![0]}`;
      joined.push(`${long}=${next}`);
      i++;
    } else joined.push(a);
  }
  head = joined;
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    // Nothing that looks like a flag: all positionals, as the parser would say. The fast
    // commands (`env NAME`, `url NAME`) then skip loading it, most of a millisecond.
    parsed = head.some((a) => a.startsWith('-')) ? parseArgs({ args: head, options, allowPositionals: true, strict: true }) : { values: {}, positionals: head };
  } catch (err) {
    const m = /Unknown option '([^']+)'/.exec((err as Error).message);
    if (m) {
      throw new UnknownFlagError(m[1]!, Object.keys(specs).filter((k) => !specs[k]!.description.startsWith('Retired')), command);
    }
    const v = /Option '([^']+)' argument missing/.exec((err as Error).message);
    if (v) throw new UsageError(`flag needs an argument: ${v[1]!.split(',').pop()!.trim()}`);
    const a = /Option '([^']+)' argument is ambiguous/.exec((err as Error).message);
    if (a) {
      const flag = a[1]!.split(',').pop()!.trim();
      throw new UsageError(`flag ${flag} takes a value that starts with "-": write it as ${flag}=VALUE`);
    }
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see "${progName()} ${command} --help")`);
  }
  const values = { ...parsed.values } as ParsedValues;
  for (const [name, s] of Object.entries(specs)) {
    if (values[name] !== undefined) continue;
    const fromEnv = s.env ? process.env[s.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') {
      values[name] = s.type === 'boolean' ? /^(1|true|yes)$/i.test(fromEnv) : s.multiple ? [fromEnv] : fromEnv;
    } else if (s.default !== undefined) {
      values[name] = s.default;
    }
  }
  return { values, positionals: parsed.positionals, rest };
}

/** Index just past the Nth positional, skipping flags and their values. */
function positionalCut(args: string[], specs: OptionSpecs, count: number): number {
  const takesValue = new Set<string>();
  for (const [name, s] of Object.entries(specs)) {
    if (s.type === 'string') {
      takesValue.add(`--${name}`);
      if (s.short) takesValue.add(`-${s.short}`);
    }
  }
  let seen = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i;
    if (a.startsWith('-') && a !== '-') {
      if (!a.includes('=') && takesValue.has(a)) i++;
      continue;
    }
    seen++;
    if (seen === count) return i + 1;
  }
  return args.length;
}

export function str(v: ParsedValues[string]): string {
  return typeof v === 'string' ? v : '';
}
export function list(v: ParsedValues[string]): string[] {
  return Array.isArray(v) ? v : typeof v === 'string' && v ? [v] : [];
}

export function formatOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : ''}--${name}${s.type === 'string' ? ` ${s.placeholder ?? 'value'}` : ''}`;
    const extra = [
      s.default !== undefined && s.default !== '' && !(Array.isArray(s.default) && !s.default.length)
        ? `default: ${JSON.stringify(s.default)}`
        : '',
      s.env ? `$${s.env}` : '',
    ].filter(Boolean);
    return [flag, s.description + (extra.length ? ` [${extra.join(', ')}]` : '')] as const;
  });
  const width = Math.min(44, Math.max(...rows.map(([f]) => f.length), 10) + 2);
  return rows.map(([f, d]) => `   ${f.padEnd(width)}${d}`).join('\n');
}
