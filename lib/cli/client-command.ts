/**
 * What the client commands (`request`, `publish`, `answer`, `subscribe`) share: the default URL, the
 * exit code of each outcome, the token from the environment, how they report a usage problem or a
 * failure, the arguments they parse alike, and their clients: connected to `--url`, or with
 * `--local <app>` a local-mode client of that app (lib/local/README.md).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Client, connectLocal, SwitchboardError, type ClientOptions } from '../client/node.js';

export const DEFAULT_URL = 'ws://127.0.0.1:9042/';

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
  url: { type: 'string', default: DEFAULT_URL },
  local: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type CommandConfig<O extends Options> = { args: string[]; allowPositionals: true; strict: true; options: typeof COMMON & O };
type Parsed<O extends Options> = ReturnType<typeof parseArgs<CommandConfig<O>>>;

/**
 * A client command's arguments, parsed strictly with its positionals; `--url` (default DEFAULT_URL) and
 * `--help` come with every command. The parsed values, or the exit code when the command is done: the
 * usage text printed for `--help`, or a usage problem.
 */
export function parseCommand<O extends Options>(command: string, text: string, argv: string[], options: O): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs<CommandConfig<O>>({ args: argv, allowPositionals: true, strict: true, options: { ...COMMON, ...options } });
  } catch (error) {
    return usage(command, text, (error as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(text);
    return EXIT_CODES.ok;
  }
  return parsed;
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

/** The `<json>` argument, or a usage problem. */
export function parseMessage(json: string): { message: unknown } | { problem: string } {
  try {
    return { message: JSON.parse(json) };
  } catch {
    return { problem: `<json> is not valid JSON: ${json.slice(0, 100)}` };
  }
}

/** A whole number of milliseconds >= 1, or undefined. */
export function parseMilliseconds(text: string): number | undefined {
  const ms = Number(text);
  return Number.isInteger(ms) && ms >= 1 ? ms : undefined;
}

/**
 * The client of a long-running command: connected to `url`, or with `local` a ready local-mode client of
 * that app. Throws (or rejects with) `invalid_argument` for a bad URL, name or app; a local client also
 * rejects as `connectLocal` does (`name_taken`, ...).
 */
export async function commandClient(values: { url: string; local?: string | undefined }, options: ClientOptions): Promise<Client> {
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
