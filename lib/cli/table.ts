/**
 * Plain text for people at a terminal, for `switchboard server report`: aligned tables (numbers to the
 * right), durations and byte counts in short units, and every value from the broker made safe to print
 * (names, identities and topics come from clients: none may carry a newline or a terminal escape).
 */

/** Rows as aligned columns, the first row the header; a column of numbers is aligned right. */
export function table(rows: string[][]): string {
  const cells = rows.map((row) => row.map(sanitize));
  const columns = Math.max(...cells.map((row) => row.length));
  const widths: number[] = [];
  const numeric: boolean[] = [];
  for (let c = 0; c < columns; c++) {
    widths.push(Math.max(...cells.map((row) => [...(row[c] ?? '')].length)));
    numeric.push(cells.length > 1 && cells.slice(1).every((row) => /^(-|\d+(\.\d+)?( [KMGT]?i?B)?)$/.test(row[c] ?? '')));
  }
  return cells
    .map((row) =>
      row
        .map((cell, c) => {
          const pad = ' '.repeat(widths[c] - [...cell].length);
          if (c === row.length - 1 && !numeric[c]) return cell;
          return numeric[c] ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** A value safe to print on one line: control characters escaped as JSON escapes them. */
export function sanitize(text: string): string {
  return /[\u0000-\u001f\u007f-\u009f]/.test(text) ? JSON.stringify(text).slice(1, -1) : text;
}

/** `850ms`, `12s`, `3m04s`, `5h02m`, `3d04h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** `512 B`, `1.5 KiB`, `12 MiB`. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 || value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
