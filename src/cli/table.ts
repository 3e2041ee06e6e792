/**
 * Aligns tab-separated rows like Go's tabwriter as Docker Machine configures it
 * (minwidth 5, padding 3, spaces): scripts that cut columns keep working.
 */
export function tabwrite(rows: string[][], minWidth = 5, padding = 3): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 0, cell.length + padding, minWidth);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('').trimEnd())
    .join('\n');
}
