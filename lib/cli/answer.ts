/**
 * `switchboard answer <name>`: serve a name from the terminal until SIGINT or SIGTERM. Each request is
 * answered with its own message (echo), or, with `--exec "command"`, with the output of the command
 * (exec.ts: run by /bin/sh with the message on its stdin, stdout parsed as JSON when it is JSON, else the
 * text). A command that fails or outlives --exec-timeout answers with an error (`exec_failed`,
 * `exec_timeout`); on SIGINT or SIGTERM the commands still running are ended, so the answerer exits at
 * once. Status lines go to stderr; the first is `answering as <name> on <url>` once the name is registered.
 */
import type { Client } from '../client/node.js';
import {
  DEFAULT_URL,
  ENV_USAGE,
  LOCAL_USAGE,
  commandClient,
  exitCode,
  parseCommand,
  parseMilliseconds,
  refusal,
  tokenFromEnvironment,
  usage as usageOf,
} from './client-command.js';
import { Commands, EXEC_USAGE } from './exec.js';

const USAGE = `usage: switchboard answer <name> [--url ${DEFAULT_URL} | --local APP] [--exec "command"] [--exec-timeout MS] [--raw]

Registers <name> and answers every request: with the request's message (echo), or with --exec, with
the output of "command". Runs until SIGINT or SIGTERM; reconnects if the broker goes away.
exit codes: 0 stopped by a signal, 1 other failure, 2 usage, 7 unreachable, 10 unauthorized,
11 forbidden, 12 name_taken (as for switchboard request)

${EXEC_USAGE}
${LOCAL_USAGE}${ENV_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('answer', USAGE, argv, {
    exec: { type: 'string' },
    'exec-timeout': { type: 'string', default: '30000' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return usage('expected one <name>');
  const execTimeout = parseMilliseconds(values['exec-timeout']);
  if (execTimeout === undefined) return usage('--exec-timeout must be a whole number of milliseconds >= 1');
  const name = positionals[0];

  // Signals are taken from the start: a SIGTERM while connecting ends the command, not the process.
  let stop = (_code: number) => {};
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const onSignal = () => stop(0);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const commands = values.exec === undefined ? undefined : new Commands({ command: values.exec, timeoutMs: execTimeout, raw: values.raw });
  const connecting = commandClient(values, { name, ...tokenFromEnvironment() });
  const first = await Promise.race([connecting.then((client) => ({ client }), (error: unknown) => ({ error })), stopped.then(() => undefined)]);
  if (first !== undefined && 'error' in first) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return refusal('answer', USAGE, first.error);
  }
  // Stopped while a local client was still joining its app: close that client once it exists.
  if (first === undefined) connecting.then((late) => late.close(), () => {});
  const client: Client | undefined = first?.client;
  if (client !== undefined) serve(client, name, commands, stop);
  const code = await stopped;
  // Leave the process as it was (run() may be called in a process that lives on, like a test).
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // The commands first: the client's close waits for nothing then, and their requesters hear at once.
  await commands?.stop();
  await client?.close();
  return code;
}

/** Answer every request to `name` on `client`; `stop` is called with the exit code when it must end. */
function serve(client: Client, name: string, commands: Commands | undefined, stop: (code: number) => void): void {
  client.handle((message, ctx) => (commands === undefined ? message : commands.run(message, ctx.from)));
  const log = (line: string) => process.stderr.write(`switchboard answer: ${line}\n`);
  client.on('ready', ({ url }) => log(`answering as ${name} on ${url}`));
  if (client.status === 'ready') log(`answering as ${name} on ${client.url}`); // local mode: ready already
  client.on('reconnecting', ({ url, delayMs }) => log(`connection lost; reconnecting to ${url} in ${delayMs} ms`));
  client.on('error', (error) => {
    log(`${error.code}: ${error.message}`);
    // A name held by someone else is not going to come free by itself: stop rather than spin.
    if (error.code === 'name_taken' || error.code === 'unauthorized' || error.code === 'forbidden') stop(exitCode(error.code));
  });
  client.on('closed', ({ error }) => stop(error === undefined ? 0 : exitCode(error.code)));
}

function usage(problem: string): number {
  return usageOf('answer', USAGE, problem);
}
