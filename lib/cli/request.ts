/**
 * `switchboard request <dest> <json>`: send one request, print the answer's message as JSON on stdout,
 * exit 0. A failure prints its code and reason on stderr and exits with a code a script can test
 * (EXIT_CODES below, also in the usage text and lib/client/README.md). The connection is not retried:
 * a command that cannot reach its broker should say so at once.
 */
import { parseArgs } from 'node:util';
import { Client, SwitchboardError } from '../client/node.js';
import { isName } from '../protocol/index.js';

export const summary = 'send one request and print its answer as JSON (--url, --name, --timeout)';

export const DEFAULT_URL = 'ws://127.0.0.1:9042/';

/** Exit status for each outcome. */
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
} as const;

const USAGE = `usage: switchboard request <dest>[,<dest>...] <json> [--url ${DEFAULT_URL}] [--name NAME] [--timeout MS]

Sends <json> to <dest> (several names separated by commas: the first answer wins) and prints the
answer as JSON. --name is the name to register (default: a random anon-... name); --timeout is the
request's deadline in milliseconds (default: 30000).

exit codes: 0 answered, 1 other failure, 2 usage, 3 no_responders, 4 timeout, 5 responder_gone,
6 responder_error (the responder answered with an error), 7 unreachable (no connection to the
broker: nothing was sent), 8 disconnected (the connection dropped: the request may have been handled),
9 shutting_down (the broker is shutting down), 10 unauthorized (SWITCHBOARD_TOKEN missing or refused),
11 forbidden (the token's identity may not use this name)

environment: SWITCHBOARD_TOKEN, the token to authenticate with when the broker requires one
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string', default: DEFAULT_URL },
        name: { type: 'string' },
        timeout: { type: 'string', default: '30000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT_CODES.ok;
  }
  if (positionals.length !== 2) return usage('expected <dest> and <json>');
  const [destArg, json] = positionals;
  const dests = destArg.split(',');
  const badName = dests.find((dest) => !isName(dest));
  if (badName !== undefined) return usage(`${JSON.stringify(badName)} is not a valid name (1 to 128 of A-Z a-z 0-9 _ . : @ / ~ -)`);
  let message: unknown;
  try {
    message = JSON.parse(json);
  } catch {
    return usage(`<json> is not valid JSON: ${json.slice(0, 100)}`);
  }
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 1) return usage('--timeout must be a whole number of milliseconds >= 1');

  let client: Client;
  try {
    client = new Client(values.url, {
      ...tokenFromEnvironment(),
      ...(values.name === undefined ? {} : { name: values.name }),
      reconnect: false,
      connectTimeoutMs: Math.min(timeout, 10_000),
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  client.on('error', () => {
    // The outcome of the request says everything a script needs; background errors are not its business.
  });
  try {
    const answer = await client.request(dests.length === 1 ? dests[0] : dests, message, { timeout });
    process.stdout.write(`${JSON.stringify(answer.message)}\n`);
    return EXIT_CODES.ok;
  } catch (error) {
    return fail(error);
  } finally {
    await client.close();
  }
}

function fail(error: unknown): number {
  if (!(error instanceof SwitchboardError)) {
    process.stderr.write(`switchboard request: ${String(error)}\n`);
    return EXIT_CODES.other;
  }
  const remote = error.code === 'responder_error' ? ` (remote code ${error.remoteCode})` : '';
  process.stderr.write(`switchboard request: ${error.code}${remote}: ${error.message}\n`);
  const code = error.code === 'invalid_argument' ? 'usage' : error.code;
  return code in EXIT_CODES ? EXIT_CODES[code as keyof typeof EXIT_CODES] : EXIT_CODES.other;
}

/** The token in SWITCHBOARD_TOKEN, if any: an argument would show in `ps` and shell histories. */
export function tokenFromEnvironment(): { token?: string } {
  const token = process.env.SWITCHBOARD_TOKEN;
  return token === undefined || token === '' ? {} : { token };
}

function usage(problem: string): number {
  process.stderr.write(`switchboard request: ${problem}\n\n${USAGE}`);
  return EXIT_CODES.usage;
}
