/**
 * `switchboard publish <topic> <json>`: publish one message to the subscribers of a topic (protocol.md
 * 4.7) and print how many received it. With `--request` it is a request to them instead: the first
 * answer's message is printed as JSON, and a failure exits with the same codes as `switchboard request`
 * (EXIT_CODES in client-command.ts); with `--gather`, every subscriber's result, as one JSON array.
 * The connection is not retried: a broker it cannot reach is exit 7 at once.
 */
import type { Client } from '../client/node.js';
import {
  DEFAULT_URL,
  ENV_USAGE,
  EXIT_CODES,
  LOCAL_USAGE,
  MESSAGE_USAGE,
  TOPIC_RULE,
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

const USAGE = `usage: switchboard publish <topic>[,<topic>...] <json> [--url ${DEFAULT_URL} | --local APP] [--name NAME]
                          [--event NAME] [--request | --gather] [--timeout MS] [--raw]

Publishes <json> to the subscribers of <topic> and every topic below it (several topics separated by
commas: each subscriber gets it once) and prints the number of receivers. --event names the event
delivered with it. With --request it is a request to the subscribers: the first answer's message is
printed as JSON. With --gather it is a request whose every answer is waited for: one JSON array with a
result per subscriber reached, as for switchboard request --gather. --name is the name to register
(default: a random anon-... name); --timeout is the deadline in milliseconds (default: 30000).
${MESSAGE_USAGE}
exit codes: 0 published (or answered), 1 other failure, 2 usage, 7 unreachable, 8 disconnected,
9 shutting_down, 10 unauthorized, 11 forbidden, 12 name_taken; with --request or --gather also 3 no_responders (no subscriber),
4 timeout, 5 responder_gone, 6 responder_error, as for switchboard request

${LOCAL_USAGE}${ENV_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('publish', USAGE, argv, {
    name: { type: 'string' },
    event: { type: 'string' },
    request: { type: 'boolean', default: false },
    gather: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '30000' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) return usage('expected <topic> and <json>');
  if (values.request && values.gather) return usage('--request and --gather exclude each other');
  const [topicArg, json] = positionals;
  const timeout = parseMilliseconds(values.timeout);
  if (timeout === undefined) return usage('--timeout must be a whole number of milliseconds >= 1');
  const read = await readMessage(json, values.raw);
  if ('problem' in read) return usage(read.problem);
  const topics = topicArg.split(',');
  const { isName, isTopic } = await grammar();
  const badTopic = topics.find((topic) => !isTopic(topic));
  if (badTopic !== undefined) return usage(`${JSON.stringify(badTopic)} is not a valid topic (${TOPIC_RULE})`);
  if (values.event !== undefined && !isName(values.event)) return usage(`--event ${JSON.stringify(values.event)} is not a valid event name`);
  let client: Client;
  try {
    client = await oneShotClient(values.url, values.name, timeout, values.local);
  } catch (error) {
    return refusal('publish', USAGE, error);
  }
  const topic = topics.length === 1 ? topics[0] : topics;
  const event = values.event === undefined ? {} : { event: values.event };
  try {
    if (values.gather) {
      process.stdout.write(`${JSON.stringify(await client.gather({ topic }, read.message, { timeout, ...event }))}\n`);
    } else if (values.request) {
      const answer = await client.request({ topic }, read.message, { timeout, ...event });
      process.stdout.write(formatMessage(answer.message, values.raw));
    } else {
      process.stdout.write(`${await client.publish(topic, read.message, { timeout, ...event })}\n`);
    }
    return EXIT_CODES.ok;
  } catch (error) {
    return failure('publish', error);
  } finally {
    await client.close();
  }
}

function usage(problem: string): number {
  return usageOf('publish', USAGE, problem);
}
