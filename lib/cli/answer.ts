/**
 * `switchboard answer <name>`: serve a name from the terminal until SIGINT or SIGTERM. Each request is
 * answered with its own message (echo), or, with `--exec "command"`, with the output of the command run
 * by /bin/sh with the message as JSON on its stdin (stdout parsed as JSON when it is JSON, else the text).
 * A command that fails or outlives --exec-timeout answers with an error (`exec_failed`, `exec_timeout`).
 * Status lines go to stderr; the first is `answering as <name> on <url>` once the name is registered.
 */
import { spawn } from 'node:child_process';
import type { Client, MessageContext } from '../client/node.js';
import { DEFAULT_URL, LOCAL_USAGE, commandClient, exitCode, refusal, parseCommand, parseMilliseconds, tokenFromEnvironment, usage as usageOf } from './client-command.js';

export const summary = 'serve a name: answer requests with an echo or a command\'s output (--url, --exec)';

const USAGE = `usage: switchboard answer <name> [--url ${DEFAULT_URL} | --local APP] [--exec "command"] [--exec-timeout MS]

Registers <name> and answers every request: with the request's message (echo), or with --exec, with
the output of "command" (run by /bin/sh, the message as JSON on stdin, SWITCHBOARD_FROM set to the
sender's name). Runs until SIGINT or SIGTERM; reconnects if the broker goes away.
exit codes: 0 stopped by a signal, 1 other failure, 2 usage, 7 unreachable, 10 unauthorized,
11 forbidden, 12 name_taken (as for switchboard request)
${LOCAL_USAGE}environment: SWITCHBOARD_TOKEN, the token to authenticate with when the broker requires one
`;

/** Output kept from a command: more is an error, since an answer cannot be larger than a frame anyway. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

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

  let client: Client;
  try {
    client = await commandClient(values, { name: positionals[0], ...tokenFromEnvironment() });
  } catch (error) {
    return refusal('answer', USAGE, error);
  }
  const command = values.exec;
  client.handle((message, ctx) => (command === undefined ? message : runCommand(command, message, ctx, execTimeout)));

  const log = (line: string) => process.stderr.write(`switchboard answer: ${line}\n`);
  client.on('ready', ({ url }) => log(`answering as ${positionals[0]} on ${url}`));
  if (client.status === 'ready') log(`answering as ${positionals[0]} on ${client.url}`); // local mode: ready already
  client.on('reconnecting', ({ url, delayMs }) => log(`connection lost; reconnecting to ${url} in ${delayMs} ms`));
  let stop = () => {};
  const stopped = new Promise<number>((resolve) => {
    stop = () => resolve(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    client.on('error', (error) => {
      log(`${error.code}: ${error.message}`);
      // A name held by someone else is not going to come free by itself: stop rather than spin.
      if (error.code === 'name_taken' || error.code === 'unauthorized' || error.code === 'forbidden') resolve(exitCode(error.code));
    });
    client.on('closed', ({ error }) => resolve(error === undefined ? 0 : exitCode(error.code)));
  });
  const code = await stopped;
  // Leave the process as it was (run() may be called in a process that lives on, like a test).
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await client.close();
  return code;
}

/** Run `command` with `message` as JSON on stdin; resolve with its output, reject with a coded error. */
function runCommand(command: string, message: unknown, ctx: MessageContext, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SWITCHBOARD_FROM: ctx.from },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let failure: { code: string; message: string } | undefined;
    const timer = setTimeout(() => {
      failure = { code: 'exec_timeout', message: `the command ran longer than ${timeoutMs} ms` };
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        failure ??= { code: 'exec_failed', message: `the command wrote more than ${MAX_OUTPUT_BYTES} bytes` };
        child.kill('SIGKILL');
      } else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64) stderr.push(chunk);
    });
    child.stdin.on('error', () => {
      // A command that does not read its stdin closes the pipe early: not an error of ours.
    });
    child.stdin.end(`${JSON.stringify(message)}\n`);
    child.on('error', (error) => {
      failure ??= { code: 'exec_failed', message: error.message };
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (failure === undefined && status !== 0) {
        const tail = Buffer.concat(stderr).toString().trim().slice(-500);
        failure = { code: 'exec_failed', message: `the command exited with ${status ?? signal}${tail ? `: ${tail}` : ''}` };
      }
      if (failure !== undefined) return reject(Object.assign(new Error(failure.message), { code: failure.code }));
      resolve(parseOutput(Buffer.concat(stdout).toString()));
    });
  });
}

/** JSON output as its value; other output as its text without the trailing newline; nothing as null. */
function parseOutput(text: string): unknown {
  const trimmed = text.replace(/\r?\n$/, '');
  if (trimmed.trim() === '') return null;
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}

function usage(problem: string): number {
  return usageOf('answer', USAGE, problem);
}
