/**
 * What the client commands (`request`, `publish`, `answer`, `subscribe`) share: the URL (`--url`, else
 * SWITCHBOARD_URL, else the default), the exit code of each outcome, the token from the environment, how
 * they report a usage problem or a failure, the arguments they parse alike, the message given as an
 * argument or on stdin (`-`), as JSON or with `--raw` as text, and their clients: connected to the URL,
 * or with `--local <app>` a local-mode client of that app (lib/local/README.md).
 *
 * Loading is kept for when it is needed: this file imports no client, no `ws` and no typebox, so that
 * `--help` and most usage errors answer at once; the client (with the protocol's schemas) is imported
 * when a command connects, and the name grammar when a command checks a name (`grammar()`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Client, ClientOptions } from '../client/node.js';
import { SwitchboardError } from '../client/errors.js';

export const DEFAULT_URL = 'ws://127.0.0.1:9042/';

/** The usage texts' lines on the environment, which every client command reads. */
export const ENV_USAGE = `environment: SWITCHBOARD_URL, the broker's URL when neither --url nor --local is given;
SWITCHBOARD_TOKEN, the token to authenticate with when the broker requires one
`;

/** The usage texts' lines on the message argument, for the commands that send one. */
export const MESSAGE_USAGE = `<json> is the message as JSON, or - to read it from stdin (up to 16 MiB); with --raw it is text, sent as
a string without JSON quoting, and an answer that is a string is printed as its text.
`;

/** The usage texts' line on `--local`, which every client command takes. */
export const LOCAL_USAGE = `--local APP: local mode, instead of --url: join the processes of APP on this machine, with no broker
to start (the first process hosts it; SWITCHBOARD_LOCAL_DIR is where its private socket lives).
`;

/**
 * Exit status for each outcome (also in the commands' usage texts and lib/client/README.md): one
 * mapping for every command, so a code means the same whichever command exits with it.
 */
export const EXIT_CODES = {
  ok: 0,
  other: 1,
  usage: 2,
  no_responders: 3,
  timeout: 4,
  responder_gone: 5,
  responder_error: 6,
  unreachable: 7,
  disconnected: 8,
  shutting_down: 9,
  unauthorized: 10,
  forbidden: 11,
  name_taken: 12,
} as const;

/** The exit status of a failure with error code `code`: its own when it has one, else `other`. */
export function exitCode(code: string): number {
  const outcome = code === 'invalid_argument' ? 'usage' : code;
  return Object.hasOwn(EXIT_CODES, outcome) ? EXIT_CODES[outcome as keyof typeof EXIT_CODES] : EXIT_CODES.other;
}

/** The token in SWITCHBOARD_TOKEN, if any: an argument would show in `ps` and shell histories. */
export function tokenFromEnvironment(): { token?: string } {
  const token = process.env.SWITCHBOARD_TOKEN;
  return token === undefined || token === '' ? {} : { token };
}

/** Print a usage problem and the usage text; the usage exit code. */
export function usage(command: string, text: string, problem: string): number {
  process.stderr.write(`switchboard ${command}: ${problem}\n\n${text}`);
  return EXIT_CODES.usage;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON = {
  url: { type: 'string' },
  local: { type: 'string' },
  raw: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type CommandConfig<O extends Options> = { args: string[]; allowPositionals: true; strict: true; options: typeof COMMON & O };
type Parsed<O extends Options> = ReturnType<typeof parseArgs<CommandConfig<O>>>;
/** Parsed arguments, with `url` resolved: `--url`, else SWITCHBOARD_URL, else DEFAULT_URL. */
export type CommandArgs<O extends Options> = Parsed<O> & { values: { url: string } };

/** The broker's URL when no --url is given: SWITCHBOARD_URL, else DEFAULT_URL. */
export function urlFromEnvironment(): string {
  const url = process.env.SWITCHBOARD_URL;
  return url === undefined || url.trim() === '' ? DEFAULT_URL : url.trim();
}

/**
 * A client command's arguments, parsed strictly with its positionals; `--url`, `--local`, `--raw` and
 * `--help` come with every command. The parsed values, or the exit code when the command is done: the
 * usage text printed for `--help`, or a usage problem.
 */
export function parseCommand<O extends Options>(command: string, text: string, argv: string[], options: O): CommandArgs<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs<CommandConfig<O>>({ args: argv, allowPositionals: true, strict: true, options: { ...COMMON, ...options } });
  } catch (error) {
    return usage(command, text, (error as Error).message);
  }
  const values = parsed.values as { help?: boolean; url?: string; local?: string };
  if (values.help) {
    process.stdout.write(text);
    return EXIT_CODES.ok;
  }
  if (values.url !== undefined && values.local !== undefined) return usage(command, text, '--url and --local exclude each other');
  values.url ??= urlFromEnvironment();
  return parsed as CommandArgs<O>;
}

/** A client that could not be made: a usage problem (a bad option, URL, name or app), or a refusal's exit code. */
export function refusal(command: string, text: string, error: unknown): number {
  if (error instanceof SwitchboardError && error.code !== 'invalid_argument') return failure(command, error);
  return usage(command, text, (error as Error).message);
}

/** Print a failure's code and reason; the exit code of its outcome. */
export function failure(command: string, error: unknown): number {
  if (!(error instanceof SwitchboardError)) {
    process.stderr.write(`switchboard ${command}: ${String(error)}\n`);
    return EXIT_CODES.other;
  }
  const remote = error.code === 'responder_error' ? ` (remote code ${error.remoteCode})` : '';
  process.stderr.write(`switchboard ${command}: ${error.code}${remote}: ${error.message}\n`);
  return exitCode(error.code);
}

/** The most read from stdin for a message (`-`): far more than a frame may carry, but a bound. */
export const MAX_STDIN_BYTES = 16 * 1024 * 1024;

/**
 * The message of a `<json>` argument: the argument, or stdin when it is `-`; parsed as JSON, or with
 * `raw` the text itself (from stdin without its trailing newline). A usage problem otherwise.
 */
export async function readMessage(arg: string, raw: boolean, stdin: NodeJS.ReadableStream = process.stdin): Promise<{ message: unknown } | { problem: string }> {
  let text = arg;
  if (arg === '-') {
    const read = await readAll(stdin, MAX_STDIN_BYTES);
    if (read === undefined) return { problem: `the message on stdin is longer than ${MAX_STDIN_BYTES} bytes` };
    text = raw ? read.replace(/\r?\n$/, '') : read;
  }
  if (raw) return { message: text };
  try {
    return { message: JSON.parse(text) };
  } catch {
    return { problem: `${arg === '-' ? 'stdin' : '<json>'} is not valid JSON (--raw sends text): ${text.slice(0, 100)}` };
  }
}

/** Everything `input` gives until its end, as UTF-8; undefined past `max` bytes. */
async function readAll(input: NodeJS.ReadableStream, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > max) {
      if ('destroy' in input && typeof input.destroy === 'function') input.destroy();
      return undefined;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A message as a line of output: JSON, or with `raw` a string as its text. */
export function formatMessage(message: unknown, raw: boolean): string {
  return raw && typeof message === 'string' ? `${message}\n` : `${JSON.stringify(message)}\n`;
}

/** A whole number of milliseconds >= 1, or undefined. */
export function parseMilliseconds(text: string): number | undefined {
  const ms = Number(text);
  return Number.isInteger(ms) && ms >= 1 ? ms : undefined;
}

/** The name and topic grammar (protocol.md section 3), loaded when a command checks one. */
export function grammar(): Promise<typeof import('../protocol/grammar.js')> {
  return import('../protocol/grammar.js');
}

export const NAME_RULE = '1 to 128 of A-Z a-z 0-9 _ . : @ / ~ -';
export const TOPIC_RULE = '1 to 16 dot-separated segments of A-Z a-z 0-9 _ : @ / ~ -';

/**
 * The client of a long-running command: connected to `url`, or with `local` a ready local-mode client of
 * that app. Throws (or rejects with) `invalid_argument` for a bad URL, name or app; a local client also
 * rejects as `connectLocal` does (`name_taken`, ...).
 */
export async function commandClient(values: { url: string; local?: string | undefined }, options: ClientOptions): Promise<Client> {
  const { Client, connectLocal } = await import('../client/node.js');
  return values.local === undefined ? new Client(values.url, options) : connectLocal(values.local, options);
}

/** Attempts of a one-shot local client: enough to ride out a takeover (local mode retries within milliseconds). */
const ONE_SHOT_LOCAL_ATTEMPTS = 40;

/**
 * A client for one operation: it does not reconnect (a broker it cannot reach is `unreachable` at
 * once, a name it cannot have `name_taken`), and its background errors are ignored (the operation's
 * outcome says all a script needs). With `local`, a local-mode client of that app, ready; it may host
 * the app for its short life, and retries its first connection briefly in case a takeover is under way.
 * Rejects with `invalid_argument` for a bad URL, name or app.
 */
export async function oneShotClient(url: string, name: string | undefined, timeoutMs: number, local?: string): Promise<Client> {
  const { Client, connectLocal } = await import('../client/node.js');
  const options: ClientOptions = {
    ...tokenFromEnvironment(),
    ...(name === undefined ? {} : { name }),
    reconnect: local === undefined ? false : { maxAttempts: ONE_SHOT_LOCAL_ATTEMPTS },
    connectTimeoutMs: Math.min(timeoutMs, 10_000),
  };
  const client = local === undefined ? new Client(url, options) : await connectLocal(local, options);
  client.on('error', () => {});
  return client;
}
