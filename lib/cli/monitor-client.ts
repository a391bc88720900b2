/**
 * How `switchboard server ...` talks to a broker's monitor listener (lib/monitor/README.md): one HTTP
 * request with a deadline and a bounded answer, the token as `Authorization: Bearer`, and every way it can
 * fail turned into a MonitorError with the exit code of client-command.ts's table, so that a script sees
 * the same number for the same trouble whichever command met it. Plain node:http(s), no client library:
 * a health check run every few seconds should cost little more than starting Node.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EXIT_CODES } from './client-command.js';

export const DEFAULT_MONITOR_URL = 'http://127.0.0.1:9043';

/** The largest answer read: 10,000 connections (the page limit) take about 3 MB. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

export class MonitorError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'MonitorError';
  }
}

export interface MonitorAnswer {
  status: number;
  body: unknown;
}

/**
 * The monitor's base URL: `--monitor`, else SWITCHBOARD_MONITOR_URL, else the default; `HOST:PORT` is
 * taken as `http://HOST:PORT`. Throws a usage MonitorError for anything that is not an http(s) URL.
 */
export function monitorUrl(flag: string | undefined): URL {
  const given = flag ?? (process.env.SWITCHBOARD_MONITOR_URL?.trim() || DEFAULT_MONITOR_URL);
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MonitorError(EXIT_CODES.usage, `--monitor ${JSON.stringify(given)} is not a URL (e.g. ${DEFAULT_MONITOR_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MonitorError(EXIT_CODES.usage, `--monitor must be an http:// or https:// URL, not ${url.protocol}// (the monitor is not the WebSocket port)`);
  }
  return url;
}

/**
 * One call: `method path` on the monitor at `base`. Resolves with any HTTP answer (the caller decides what
 * a status means); rejects with a MonitorError when there is no answer: 7 unreachable, 4 timeout.
 */
export function call(base: URL, method: 'GET' | 'POST', path: string, options: { token?: string; timeoutMs: number }): Promise<MonitorAnswer> {
  const url = new URL(base.pathname.replace(/\/$/, '') + path, base);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, signal: AbortSignal.timeout(options.timeoutMs) }, (res) => {
      read(res).then((text) => {
        if (text === undefined) return reject(new MonitorError(EXIT_CODES.other, `the monitor's answer to ${path} is longer than ${MAX_ANSWER_BYTES} bytes`));
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: kept as text, for the message of whoever cannot use it.
        }
        resolve({ status: res.statusCode ?? 0, body });
      }, (error: Error) => reject(noAnswer(error, url, options.timeoutMs)));
    });
    req.on('error', (error) => reject(noAnswer(error, url, options.timeoutMs)));
    req.end();
  });
}

async function read(res: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > MAX_ANSWER_BYTES) {
      res.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function noAnswer(error: Error & { code?: string }, url: URL, timeoutMs: number): MonitorError {
  if (error.name === 'AbortError' || error.name === 'TimeoutError' || error.code === 'ABORT_ERR') {
    return new MonitorError(EXIT_CODES.timeout, `no answer from the monitor at ${url.origin} within ${timeoutMs} ms`);
  }
  return new MonitorError(EXIT_CODES.unreachable, `cannot reach the monitor at ${url.origin}: ${error.code ?? error.message}`);
}

/**
 * A 200 answer's body; any other status as a MonitorError: 401 unauthorized (10), 403 forbidden (11),
 * 400 usage (2), 404 or 426 "not a monitor" (7: no monitor answers there; 426 is the broker's WebSocket
 * port), else other (1).
 */
export function expectOk(answer: MonitorAnswer, path: string): unknown {
  if (answer.status === 200) return answer.body;
  throw statusError(answer, path);
}

export function statusError(answer: MonitorAnswer, path: string): MonitorError {
  const said = describe(answer.body);
  const code =
    answer.status === 401 ? EXIT_CODES.unauthorized
    : answer.status === 403 ? EXIT_CODES.forbidden
    : answer.status === 400 ? EXIT_CODES.usage
    : answer.status === 404 || answer.status === 426 ? EXIT_CODES.unreachable
    : EXIT_CODES.other;
  const hint =
    answer.status === 401 ? ' (give a token with the monitor permission: SWITCHBOARD_TOKEN or --token)'
    : answer.status === 404 ? ' (is --monitor the monitor listener of serve --monitor?)'
    : answer.status === 426 ? ' (that is the broker\'s WebSocket port: --monitor is the port of serve --monitor)'
    : '';
  return new MonitorError(code, `${path}: HTTP ${answer.status}${said === '' ? '' : `: ${said}`}${hint}`, answer.status);
}

/** What an error body says: `code: message` of `{error, message}`, or the start of a text. */
function describe(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const { error, message } = body as { error?: unknown; message?: unknown };
    if (typeof error === 'string') return typeof message === 'string' ? `${error}: ${message}` : error;
  }
  return typeof body === 'string' ? body.trim().slice(0, 200) : '';
}
