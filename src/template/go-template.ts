import { MachineError } from '../errors.js';

// A subset of Go's text/template, enough for Docker Machine's `ls --format` and
// `inspect -f`. Every JS object is treated as a Go map: a missing key prints "<no value>",
// as it does for the map[string]interface{} data Docker Machine's inspect templates see.

export class TemplateError extends MachineError {}

type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with'; pipe: Pipe; then: Node[]; else: Node[] }
  | { t: 'range'; pipe: Pipe; vars: string[]; body: Node[]; else: Node[] };

type Arg =
  | { k: 'field'; base: 'dot' | 'root' | string; path: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'ident'; name: string }
  | { k: 'sub'; pipe: Pipe };

interface Cmd {
  args: Arg[];
}
interface Pipe {
  decl?: string;
  cmds: Cmd[];
}

const NO_VALUE = Symbol('no value');

function lex(src: string): Array<{ text?: string; action?: string; pos: number }> {
  const out: Array<{ text?: string; action?: string; pos: number }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i), pos: i });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) out.push({ text, pos: i });
    const close = findClose(src, start);
    if (close < 0) throw new TemplateError(`template: :1: unclosed action`);
    let end = close;
    let next = close + 2;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
      end = close - 1;
      while (next < src.length && /\s/.test(src[next]!)) next++;
    }
    out.push({ action: src.slice(start, end).trim(), pos: open });
    i = next;
  }
  return out;
}

function findClose(src: string, from: number): number {
  let q: string | null = null;
  for (let i = from; i < src.length - 1; i++) {
    const c = src[i]!;
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === '`' || c === "'") q = c;
    else if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

function tokenize(action: string): string[] {
  const toks: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*'|:=|=|\||\(|\)|,|[^\s|()]+)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(action)) && m[1] !== undefined) {
    toks.push(m[1]);
    end = re.lastIndex;
  }
  const rest = action.slice(end).trim();
  if (rest) throw new TemplateError(`template: :1: unexpected "${rest}" in operand`);
  return toks;
}

function parsePipe(toks: string[]): Pipe {
  let pos = 0;
  const pipe: Pipe = { cmds: [] };
  if (toks.length >= 2 && toks[0]!.startsWith('$') && (toks[1] === ':=' || toks[1] === '=')) {
    pipe.decl = toks[0];
    pos = 2;
  }
  const parseCmd = (): Cmd => {
    const args: Arg[] = [];
    while (pos < toks.length && toks[pos] !== '|' && toks[pos] !== ')') {
      const t = toks[pos++]!;
      if (t === '(') {
        const inner: string[] = [];
        let depth = 1;
        while (pos < toks.length) {
          const x = toks[pos++]!;
          if (x === '(') depth++;
          if (x === ')' && --depth === 0) break;
          inner.push(x);
        }
        if (depth !== 0) throw new TemplateError('template: :1: unclosed left paren');
        args.push({ k: 'sub', pipe: parsePipe(inner) });
        // Field access on a parenthesised pipe: (index .X 0).Name
        continue;
      }
      args.push(parseArg(t));
    }
    if (!args.length) throw new TemplateError('template: :1: missing value for command');
    return { args };
  };
  pipe.cmds.push(parseCmd());
  while (pos < toks.length && toks[pos] === '|') {
    pos++;
    pipe.cmds.push(parseCmd());
  }
  if (pos < toks.length) throw new TemplateError(`template: :1: unexpected "${toks[pos]}" in operand`);
  return pipe;
}

function parseArg(t: string): Arg {
  if (t.startsWith('"')) return { k: 'lit', v: JSON.parse(t) as string };
  if (t.startsWith('`')) return { k: 'lit', v: t.slice(1, -1) };
  if (t.startsWith("'")) return { k: 'lit', v: JSON.parse(`"${t.slice(1, -1).replace(/"/g, '\\"')}"`) as string };
  if (/^-?\d+(\.\d+)?$/.test(t)) return { k: 'lit', v: Number(t) };
  if (t === 'true' || t === 'false') return { k: 'lit', v: t === 'true' };
  if (t === 'nil') return { k: 'lit', v: null };
  if (t === '.') return { k: 'field', base: 'dot', path: [] };
  if (t.startsWith('.')) return { k: 'field', base: 'dot', path: t.slice(1).split('.') };
  if (t.startsWith('$')) {
    const [v, ...path] = t.split('.');
    return { k: 'field', base: v === '$' ? 'root' : v!, path };
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) return { k: 'ident', name: t };
  throw new TemplateError(`template: :1: unexpected "${t}" in operand`);
}

function parse(src: string): Node[] {
  const items = lex(src);
  let i = 0;
  const block = (ends: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (i < items.length) {
      const it = items[i++]!;
      if (it.text !== undefined) {
        nodes.push({ t: 'text', v: it.text });
        continue;
      }
      const a = it.action!;
      if (a.startsWith('/*')) continue;
      const word = a.split(/\s+/)[0]!;
      if (ends.includes(word) || (word === 'else' && ends.includes('else'))) return { nodes, end: a };
      if (word === 'if' || word === 'with' || word === 'range') {
        const rest = a.slice(word.length).trim();
        nodes.push(control(word, rest));
        continue;
      }
      if (word === 'end' || word === 'else') throw new TemplateError(`template: :1: unexpected {{${word}}}`);
      nodes.push({ t: 'action', pipe: parsePipe(tokenize(a)) });
    }
    if (ends.length) throw new TemplateError('template: :1: unexpected EOF');
    return { nodes, end: '' };
  };
  const control = (word: 'if' | 'with' | 'range', rest: string): Node => {
    let vars: string[] = [];
    let pipeSrc = rest;
    const rm = /^(\$\w*)\s*(?:,\s*(\$\w*))?\s*:=\s*(.*)$/.exec(rest);
    if (word === 'range' && rm) {
      vars = [rm[1]!, ...(rm[2] ? [rm[2]] : [])];
      pipeSrc = rm[3]!;
    }
    const pipe = parsePipe(tokenize(pipeSrc));
    const first = block(['end', 'else']);
    let elseNodes: Node[] = [];
    if (first.end.startsWith('else')) {
      const elseRest = first.end.slice(4).trim();
      if (elseRest.startsWith('if ') || elseRest.startsWith('with ')) {
        const w = elseRest.split(/\s+/)[0] as 'if' | 'with';
        elseNodes = [control(w, elseRest.slice(w.length).trim())];
      } else {
        elseNodes = block(['end']).nodes;
      }
    }
    if (word === 'range') return { t: 'range', pipe, vars, body: first.nodes, else: elseNodes };
    return { t: word, pipe, then: first.nodes, else: elseNodes };
  };
  return block([]).nodes;
}

function truthy(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** Go's fmt %v rendering of a value. */
export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([svdqtfx%])/g, (_m, _flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    switch (verb) {
      case 'q':
        return JSON.stringify(typeof a === 'string' ? a : goString(a));
      case 'd':
        return String(Math.trunc(Number(a)));
      case 'f':
        return Number(a).toFixed(6);
      case 'x':
        return typeof a === 'number' ? a.toString(16) : Buffer.from(String(a)).toString('hex');
      default:
        return typeof a === 'string' ? a : goString(a);
    }
  });
}

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v === NO_VALUE ? null : v),
  prettyjson: (v) => JSON.stringify(v === NO_VALUE ? null : v, null, 2),
  printf: (f, ...a) => sprintf(String(f), a),
  print: (...a) => a.map((x) => (typeof x === 'string' ? x : goString(x))).join(''),
  println: (...a) => a.map((x) => (typeof x === 'string' ? x : goString(x))).join(' ') + '\n',
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  index: (v, ...keys) => keys.reduce((acc: unknown, k) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[String(k)] : undefined), v),
  join: (v, sep) => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : goString(x))).join(String(sep)) : goString(v)),
  split: (s, sep) => String(s).split(String(sep)),
  upper: (s) => String(s).toUpperCase(),
  lower: (s) => String(s).toLowerCase(),
  title: (s) => String(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  lt: (a, b) => (a as number) < (b as number),
  gt: (a, b) => (a as number) > (b as number),
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
};

interface Scope {
  dot: unknown;
  root: unknown;
  vars: Map<string, unknown>;
}

function lookup(v: unknown, path: string[], src: string): unknown {
  let cur = v;
  for (const key of path) {
    if (cur === NO_VALUE || cur === undefined || cur === null) return NO_VALUE;
    if (typeof cur !== 'object' || Array.isArray(cur)) {
      throw new TemplateError(`template: :1: executing "" at <${src}>: can't evaluate field ${key} in type ${Array.isArray(cur) ? 'slice' : typeof cur}`);
    }
    cur = key in (cur as object) ? (cur as Record<string, unknown>)[key] : NO_VALUE;
  }
  return cur;
}

function evalArg(a: Arg, s: Scope, piped: unknown[]): unknown {
  switch (a.k) {
    case 'lit':
      return a.v;
    case 'sub':
      return evalPipe(a.pipe, s);
    case 'field': {
      const base = a.base === 'dot' ? s.dot : a.base === 'root' ? s.root : s.vars.has(a.base) ? s.vars.get(a.base) : undefined;
      if (a.base !== 'dot' && a.base !== 'root' && !s.vars.has(a.base)) throw new TemplateError(`template: :1: undefined variable "${a.base}"`);
      return lookup(base, a.path, (a.base === 'dot' ? '.' : a.base) + a.path.join('.'));
    }
    case 'ident': {
      const f = FUNCS[a.name];
      if (!f) throw new TemplateError(`template: :1: function "${a.name}" not defined`);
      return f(...piped);
    }
  }
}

function evalPipe(p: Pipe, s: Scope): unknown {
  let value: unknown = NO_VALUE;
  p.cmds.forEach((cmd, idx) => {
    const [head, ...rest] = cmd.args;
    const extra = idx > 0 ? [value] : [];
    if (head!.k === 'ident') {
      const f = FUNCS[head!.name];
      if (!f) throw new TemplateError(`template: :1: function "${head!.name}" not defined`);
      value = f(...rest.map((a) => evalArg(a, s, [])), ...extra);
    } else {
      if (rest.length) throw new TemplateError(`template: :1: can't give argument to non-function`);
      value = evalArg(head!, s, []);
    }
  });
  if (p.decl) s.vars.set(p.decl, value);
  return value;
}

function exec(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.v);
        break;
      case 'action': {
        const v = evalPipe(n.pipe, s);
        if (!n.pipe.decl) out.push(typeof v === 'string' ? v : goString(v));
        break;
      }
      case 'if': {
        exec(truthy(evalPipe(n.pipe, s)) ? n.then : n.else, s, out);
        break;
      }
      case 'with': {
        const v = evalPipe(n.pipe, s);
        if (truthy(v)) exec(n.then, { ...s, dot: v }, out);
        else exec(n.else, s, out);
        break;
      }
      case 'range': {
        const v = evalPipe(n.pipe, s);
        const entries: Array<[unknown, unknown]> = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === 'object'
            ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
            : [];
        if (!entries.length) {
          exec(n.else, s, out);
          break;
        }
        for (const [k, x] of entries) {
          const vars = new Map(s.vars);
          if (n.vars.length === 1) vars.set(n.vars[0]!, x);
          if (n.vars.length === 2) {
            vars.set(n.vars[0]!, k);
            vars.set(n.vars[1]!, x);
          }
          exec(n.body, { ...s, dot: x, vars }, out);
        }
        break;
      }
    }
  }
}

const cache = new Map<string, Node[]>();

/** The template's parse, made once: a syntax error throws here, before any data is there. */
export function parseTemplate(src: string): Node[] {
  let nodes = cache.get(src);
  if (!nodes) cache.set(src, (nodes = parse(src)));
  return nodes;
}

export function renderTemplate(src: string, data: unknown): string {
  const nodes = parseTemplate(src);
  const out: string[] = [];
  exec(nodes, { dot: data, root: data, vars: new Map([['$', data]]) }, out);
  return out.join('');
}

/** Docker's `table ` prefix: headers first, then aligned rows. */
export function splitTableFormat(format: string): { table: boolean; body: string } {
  // Like the docker CLI, a typed "\t" means a tab.
  const unescape = (s: string) => s.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (format.startsWith('table ')) return { table: true, body: unescape(format.slice(6)) };
  if (format === 'table') return { table: true, body: '' };
  return { table: false, body: unescape(format) };
}
