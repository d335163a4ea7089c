/** Plain-text output helpers: aligned columns, short times, durations. */

export const columns = (rows: readonly (readonly string[])[], indent = '  '): string => {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => (indent + row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).trimEnd()).join('\n');
};

/** ISO time to the second: enough to tell keys apart, short enough for a table. */
export const shortTime = (iso: string | number): string => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90", "90s", "30m", "24h", "7d" -> seconds; undefined when it is none of those. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2] || 's']!;
};

export const showValue = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));
