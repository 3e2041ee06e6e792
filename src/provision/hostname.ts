import { shQuote } from './remote.js';

/**
 * awk that prints /etc/hosts with exactly one line for the name `want`. As on Debian, the
 * host's own name is on a 127.0.1.1 line: the first such line becomes `127.0.1.1<TAB>want`
 * (left byte for byte if it already maps the name, say with its FQDN) and any other
 * 127.0.1.1 line goes (that address means "this host", and earlier versions appended one
 * per rename). Where another line already maps the name (Docker writes "IP NAME" into a
 * container's /etc/hosts), that line is the one and no 127.0.1.1 line is kept. Every other
 * line, comments included, is printed as it was.
 */
export const HOSTS_AWK = [
  'function names(n,  i) { for (i = 2; i <= NF; i++) { if ($i ~ /^#/) return 0; if (tolower($i) == n) return 1 } return 0 }',
  'BEGIN { n = tolower(want) }',
  '{ line[NR] = $0; own[NR] = 0 }',
  '$1 ~ /^#/ || NF == 0 { next }',
  '$1 == "127.0.1.1" { own[NR] = 1; keep[NR] = names(n); if (!first) first = NR; next }',
  'names(n) { elsewhere = 1 }',
  'END {',
  '  for (i = 1; i <= NR; i++) {',
  '    if (!own[i]) print line[i]',
  '    else if (i == first && !elsewhere) print (keep[i] ? line[i] : "127.0.1.1\\t" want)',
  '  }',
  '  if (!first && !elsewhere) print "127.0.1.1\\t" want',
  '}',
].join('\n');

const hostsFor = (name: string) => `awk -v want=${shQuote(name)} ${shQuote(HOSTS_AWK)} /etc/hosts`;

/**
 * Shell that prints "fix" when /etc/hosts does not have exactly the one line for `name`
 * (part of the facts round trip, so an idempotent run costs nothing extra). A host without
 * /etc/hosts is left so.
 */
export function hostsCheckScript(name: string): string {
  return `if [ -f /etc/hosts ] && [ "$(${hostsFor(name)})" != "$(cat /etc/hosts)" ]; then echo fix; fi`;
}

/**
 * Shell that names the host `name` and gives it its one /etc/hosts line; running it again
 * changes nothing. /etc/hosts is rewritten in place (not renamed over): in a container it is
 * a bind mount, which a rename (sed -i) cannot replace, and in place its owner, mode, SELinux
 * label and any symlink stay as they were.
 */
export function hostnameScript(name: string): string {
  const q = shQuote(name);
  return [
    'set -e',
    `if [ "$(hostname)" != ${q} ]; then`,
    `  hostnamectl set-hostname ${q} 2>/dev/null || { echo ${q} > /etc/hostname && hostname ${q}; }`,
    'fi',
    'if [ -f /etc/hosts ]; then',
    '  t=$(mktemp)',
    `  trap 'rm -f "$t"' EXIT`,
    `  ${hostsFor(name)} > "$t"`,
    '  if [ "$(cat "$t")" != "$(cat /etc/hosts)" ]; then cat "$t" > /etc/hosts; fi',
    'fi',
  ].join('\n');
}
