/**
 * POSIX shell quoting: the word reaches the remote shell exactly as given. Words of only
 * safe characters stay bare, so commands read well under --debug.
 */
export function shQuote(s: string): string {
  if (/^[A-Za-z0-9_\-./:=@,+%]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
