/**
 * The logs of `switchboard serve` (README "Logs"): a pino logger that writes JSON lines, or, for a
 * person at a terminal, one short line per record from the small formatter below. pino-pretty would do
 * it too, but brings a dozen packages and a worker thread for what is a few lines of formatting, and a
 * terminal's output needs no speed. Fields that could carry a token are redacted whatever logs them.
 */
import { pino, type Logger as Pino, type LoggerOptions } from 'pino';
import type { LogFormat, LogLevel } from '../config/schema.js';

export type { Pino };

/** Where log lines go: standard output, or anything with a `write` (tests). */
export interface LogOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

const REDACTED = ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'headers.cookie'];

/** A pino logger at `level`; `auto` is pretty when `out` is a terminal, JSON lines otherwise. */
export function createLogger(level: LogLevel, format: LogFormat, out: LogOutput = process.stdout): Pino {
  const options: LoggerOptions = { level, redact: { paths: REDACTED, censor: '[redacted]' } };
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  if (pretty) return pino({ ...options, base: undefined }, prettyOutput(out, out.isTTY === true && process.env.NO_COLOR === undefined));
  return out === process.stdout ? pino(options) : pino(options, out);
}

const LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

/** A destination that turns each JSON record pino writes into `HH:MM:SS.mmm LEVEL message key=value ...`. */
export function prettyOutput(out: LogOutput, color: boolean): LogOutput {
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        const { level, time, msg, err, ...fields } = record;
        const at = new Date(typeof time === 'number' ? time : Date.now());
        const clock = `${at.toTimeString().slice(0, 8)}.${String(at.getMilliseconds()).padStart(3, '0')}`;
        const label = (LABELS[level as number] ?? String(level)).padEnd(5);
        const pairs = Object.entries(fields).map(([key, value]) => `${paint('2', `${key}=`)}${show(value)}`);
        let text = `${paint('2', clock)} ${paint(COLORS[level as number] ?? '0', label)} ${typeof msg === 'string' ? show(msg, true) : ''}`;
        if (pairs.length > 0) text += ` ${pairs.join(' ')}`;
        const stack = (err as { stack?: unknown } | undefined)?.stack;
        if (typeof stack === 'string') text += `\n    ${stack.split('\n').map((l) => show(l, true)).join('\n    ')}`;
        out.write(`${text}\n`);
      }
    },
  };
}

/**
 * A value as one line: plain when it is safe to print bare, JSON otherwise, so that no value from the
 * wire (a name, a close reason) can carry a newline or a terminal escape into the log.
 */
function show(value: unknown, bare = false): string {
  if (typeof value === 'string') {
    if (bare) return /[\u0000-\u001f\u007f-\u009f]/.test(value) ? JSON.stringify(value).slice(1, -1) : value;
    return /^[\w.:/@+\-[\]]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value) ?? String(value);
}
