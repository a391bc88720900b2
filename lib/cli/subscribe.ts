/**
 * `switchboard subscribe <topic>`: print what is published to a topic and every topic below it
 * (protocol.md 4.6, 4.7), one JSON line per delivery on stdout, `{"topic","context","from","message"}`
 * (and `"event"` when the publisher named one), until SIGINT or SIGTERM. It watches and never answers: a
 * published request goes on to the other subscribers (an error answer from a watcher would win over
 * theirs, [SB-6-7]). Status lines go to stderr; the first is `subscribed to <topic> on <url>` once the
 * subscription is in place. It reconnects, and subscribes again, if the broker goes away.
 */
import type { Client, SwitchboardError } from '../client/node.js';
import { isTopic } from '../protocol/index.js';
import { DEFAULT_URL, LOCAL_USAGE, commandClient, exitCode, refusal, parseCommand, tokenFromEnvironment, usage as usageOf } from './client-command.js';

export const summary = 'print what is published to a topic, one JSON line each (--url, --name)';

const USAGE = `usage: switchboard subscribe <topic> [--url ${DEFAULT_URL} | --local APP] [--name NAME]

Subscribes to <topic> and every topic below it and prints each delivery as one JSON line:
{"topic":...,"context":...,"from":...,"message":...} ("event" too when the publisher named one).
Never answers a published request. --name is the name to register (default: a random anon-... name).
Runs until SIGINT or SIGTERM; reconnects if the broker goes away.
exit codes: 0 stopped by a signal, 1 other failure (limit_exceeded, ...), 2 usage, 7 unreachable,
10 unauthorized, 11 forbidden, 12 name_taken (as for switchboard request)
${LOCAL_USAGE}environment: SWITCHBOARD_TOKEN, the token to authenticate with when the broker requires one
`;

/** Problems that will not go away by reconnecting: stop. */
const FATAL = new Set(['name_taken', 'unauthorized', 'forbidden', 'limit_exceeded']);

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('subscribe', USAGE, argv, {
    name: { type: 'string' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return usage('expected one <topic>');
  const [topic] = positionals;
  if (!isTopic(topic)) {
    return usage(`${JSON.stringify(topic)} is not a valid topic (1 to 16 dot-separated segments of A-Z a-z 0-9 _ : @ / ~ -)`);
  }

  let client: Client;
  try {
    client = await commandClient(values, { ...tokenFromEnvironment(), ...(values.name === undefined ? {} : { name: values.name }) });
  } catch (error) {
    return refusal('subscribe', USAGE, error);
  }
  const log = (line: string) => process.stderr.write(`switchboard subscribe: ${line}\n`);
  let stop = (_code: number) => {};
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const onSignal = () => stop(0);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A reader that went away (`| head -1`) is a normal end.
  const onOutputError = () => stop(0);
  process.stdout.once('error', onOutputError);
  client.on('error', (error) => {
    log(`${error.code}: ${error.message}`);
    if (FATAL.has(error.code)) stop(exitCode(error.code));
  });
  client.on('closed', ({ error }) => stop(error === undefined ? 0 : exitCode(error.code)));
  client.on('reconnecting', ({ url, delayMs }) => log(`connection lost; reconnecting to ${url} in ${delayMs} ms`));

  client
    .subscribe(topic, (message, ctx) => {
      const line = { topic: ctx.topic, context: ctx.context, from: ctx.from, message, ...(ctx.event === undefined ? {} : { event: ctx.event }) };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      // Never answer: wait until nobody needs an answer (the broker's cancel, or this client closing).
      if (ctx.isRequest) return new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      return undefined;
    })
    .then(
      () => {
        log(`subscribed to ${topic} on ${client.url}`);
        client.on('ready', ({ url }) => log(`subscribed to ${topic} again on ${url}`));
      },
      (error: SwitchboardError) => {
        log(`${error.code}: ${error.message}`);
        stop(error.code === 'closed' ? 0 : exitCode(error.code));
      },
    );

  const code = await stopped;
  // Leave the process as it was (run() may be called in a process that lives on, like a test).
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.stdout.off('error', onOutputError);
  await client.close();
  return code;
}

function usage(problem: string): number {
  return usageOf('subscribe', USAGE, problem);
}
