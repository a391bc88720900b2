/**
 * `switchboard subscribe <topic>`: print what is published to a topic and every topic below it
 * (protocol.md 4.6, 4.7), one JSON line per delivery on stdout, `{"topic","context","from","message"}`
 * (and `"event"` when the publisher named one), until SIGINT or SIGTERM. By default it watches and never
 * answers: a published request goes on to the other subscribers (an error answer from a watcher would
 * win over theirs, [SB-6-7]). With `--answer` it answers published requests with their own message, and
 * with `--exec "command"` with the command's output, as `switchboard answer` does (exec.ts). Status lines
 * go to stderr; the first is `subscribed to <topic> on <url>` once the subscription is in place. It
 * reconnects, and subscribes again, if the broker goes away.
 */
import type { Client, SwitchboardError } from '../client/node.js';
import {
  DEFAULT_URL,
  ENV_USAGE,
  LOCAL_USAGE,
  TOPIC_RULE,
  commandClient,
  exitCode,
  formatMessage,
  grammar,
  parseCommand,
  parseMilliseconds,
  refusal,
  tokenFromEnvironment,
  usage as usageOf,
} from './client-command.js';
import { Commands, EXEC_USAGE } from './exec.js';

const USAGE = `usage: switchboard subscribe <topic> [--url ${DEFAULT_URL} | --local APP] [--name NAME] [--raw]
                            [--answer | --exec "command" [--exec-timeout MS]]

Subscribes to <topic> and every topic below it and prints each delivery as one JSON line:
{"topic":...,"context":...,"from":...,"message":...} ("event" too when the publisher named one).
<topic> may be a filter: * stands for one segment (news.*.sports), > as the last for the rest
('news.>', quoted: > is a shell redirection). With
--raw only the message, a string as its text. --name is the name to register (default: a random
anon-... name). Without --answer or --exec it never answers a published request: it watches. With
--answer it answers each published request with its message (echo); with --exec, with the output of
"command", as switchboard answer does. Runs until SIGINT or SIGTERM; reconnects if the broker goes away.
exit codes: 0 stopped by a signal, 1 other failure (limit_exceeded, ...), 2 usage, 7 unreachable,
10 unauthorized, 11 forbidden, 12 name_taken (as for switchboard request)

${EXEC_USAGE}
${LOCAL_USAGE}${ENV_USAGE}`;

/** Problems that will not go away by reconnecting: stop. */
const FATAL = new Set(['name_taken', 'unauthorized', 'forbidden', 'limit_exceeded']);

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('subscribe', USAGE, argv, {
    name: { type: 'string' },
    answer: { type: 'boolean', default: false },
    exec: { type: 'string' },
    'exec-timeout': { type: 'string', default: '30000' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return usage('expected one <topic>');
  if (values.answer && values.exec !== undefined) return usage('--answer and --exec exclude each other (--exec answers)');
  const execTimeout = parseMilliseconds(values['exec-timeout']);
  if (execTimeout === undefined) return usage('--exec-timeout must be a whole number of milliseconds >= 1');
  const [topic] = positionals;
  if (!(await grammar()).isTopicFilter(topic)) return usage(`${JSON.stringify(topic)} is not a valid topic (${TOPIC_RULE}; * for one segment, > last for the rest)`);

  let client: Client;
  try {
    client = await commandClient(values, { ...tokenFromEnvironment(), ...(values.name === undefined ? {} : { name: values.name }) });
  } catch (error) {
    return refusal('subscribe', USAGE, error);
  }
  const commands = values.exec === undefined ? undefined : new Commands({ command: values.exec, timeoutMs: execTimeout, raw: values.raw });
  const answers = values.answer || commands !== undefined;
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
      process.stdout.write(values.raw ? formatMessage(message, true) : `${JSON.stringify(line)}\n`);
      if (!ctx.isRequest) return undefined;
      if (answers) return commands === undefined ? message : commands.run(message, ctx.from);
      // Watch only: wait until nobody needs an answer (the broker's cancel, or this client closing).
      return new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    })
    .then(
      () => {
        log(`subscribed to ${topic} on ${client.url}${answers ? ', answering' : ''}`);
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
  await commands?.stop();
  await client.close();
  return code;
}

function usage(problem: string): number {
  return usageOf('subscribe', USAGE, problem);
}
