/**
 * `switchboard request <dest> <json>`: send one request, print the answer's message as JSON on stdout,
 * exit 0. With `--gather`, every destination's result, as one JSON array (protocol.md 6.2). A failure
 * prints its code and reason on stderr and exits with a code a script can test (EXIT_CODES in
 * client-command.ts, also in the usage text and lib/client/README.md). The connection is not retried:
 * a command that cannot reach its broker, or cannot have its --name, should say so at once.
 */
import type { Client } from '../client/node.js';
import {
  DEFAULT_URL,
  ENV_USAGE,
  EXIT_CODES,
  LOCAL_USAGE,
  MESSAGE_USAGE,
  NAME_RULE,
  failure,
  formatMessage,
  grammar,
  oneShotClient,
  parseCommand,
  parseMilliseconds,
  readMessage,
  refusal,
  usage as usageOf,
} from './client-command.js';

const USAGE = `usage: switchboard request <dest>[,<dest>...] <json> [--url ${DEFAULT_URL} | --local APP] [--name NAME]
                          [--timeout MS] [--gather] [--raw]

Sends <json> to <dest> (several names separated by commas: the first answer wins) and prints the
answer as JSON. With --gather every destination's result is waited for and printed as one JSON array,
in the order of <dest>: {"from","message"}, {"from","error":{"code","message"}}, or {"from","code"}
with code timeout or responder_gone (exit 0 whatever each result is). --name is the name to register
(default: a random anon-... name); --timeout is the request's deadline in milliseconds (default: 30000).
${MESSAGE_USAGE}
exit codes: 0 answered, 1 other failure, 2 usage, 3 no_responders, 4 timeout, 5 responder_gone,
6 responder_error (the responder answered with an error), 7 unreachable (no connection to the
broker: nothing was sent), 8 disconnected (the connection dropped: the request may have been handled),
9 shutting_down (the broker is shutting down), 10 unauthorized (SWITCHBOARD_TOKEN missing or refused),
11 forbidden (the token's identity may not use this name), 12 name_taken (another client holds --name:
nothing was sent)

${LOCAL_USAGE}${ENV_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('request', USAGE, argv, {
    name: { type: 'string' },
    timeout: { type: 'string', default: '30000' },
    gather: { type: 'boolean', default: false },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) return usage('expected <dest> and <json>');
  const [destArg, json] = positionals;
  const timeout = parseMilliseconds(values.timeout);
  if (timeout === undefined) return usage('--timeout must be a whole number of milliseconds >= 1');
  const read = await readMessage(json, values.raw);
  if ('problem' in read) return usage(read.problem);
  const dests = destArg.split(',');
  const { isName } = await grammar();
  const badName = dests.find((dest) => !isName(dest));
  if (badName !== undefined) return usage(`${JSON.stringify(badName)} is not a valid name (${NAME_RULE})`);
  let client: Client;
  try {
    client = await oneShotClient(values.url, values.name, timeout, values.local);
  } catch (error) {
    return refusal('request', USAGE, error);
  }
  try {
    const dest = dests.length === 1 ? dests[0] : dests;
    if (values.gather) {
      process.stdout.write(`${JSON.stringify(await client.gather(dest, read.message, { timeout }))}\n`);
    } else {
      process.stdout.write(formatMessage((await client.request(dest, read.message, { timeout })).message, values.raw));
    }
    return EXIT_CODES.ok;
  } catch (error) {
    return failure('request', error);
  } finally {
    await client.close();
  }
}

function usage(problem: string): number {
  return usageOf('request', USAGE, problem);
}
