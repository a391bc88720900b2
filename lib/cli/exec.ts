/**
 * Answering with a command's output, for `answer --exec` and `subscribe --exec`: the command runs under
 * /bin/sh in a process group of its own, with the message on stdin (as JSON, or with `raw` a string as
 * its text) and SWITCHBOARD_FROM set to the sender's name; its stdout is the answer (JSON when it parses
 * as JSON, else the text; with `raw` always the text). A command that fails or outlives its timeout
 * answers with an error (`exec_failed`, `exec_timeout`). `stop()` ends every command still running, so
 * a command that stops on SIGTERM does not wait for them: a group is killed whole, children of the shell
 * included, since killing /bin/sh alone would leave its children holding the output pipe open.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** The usage texts' lines on --exec, for `answer` and `subscribe`. */
export const EXEC_USAGE = `--exec "command": answer with the output of the command, run by /bin/sh with the message as JSON on
stdin (with --raw a string message as its text) and SWITCHBOARD_FROM set to the sender's name; its
stdout is the answer, as JSON when it is JSON, else as text (with --raw always as text). A command
that exits non-zero answers the error exec_failed, one that outlives --exec-timeout MS (default
30000) is killed and answers exec_timeout. SIGINT or SIGTERM ends the commands still running.
`;

/** Output kept from a command: more is an error, since an answer cannot be larger than a frame anyway. */
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** Stderr kept for the error message of a failed command. */
const MAX_STDERR_CHUNKS = 64;

export interface ExecOptions {
  command: string;
  timeoutMs: number;
  /** The message and the output as text, not JSON. */
  raw: boolean;
}

export class Commands {
  readonly #running = new Set<ChildProcess>();
  #stopped = false;

  constructor(readonly options: ExecOptions) {}

  /** Run the command for one message from `from`; resolves with the answer, rejects with a coded error. */
  run(message: unknown, from: string): Promise<unknown> {
    const { command, timeoutMs, raw } = this.options;
    if (this.#stopped) return Promise.reject(coded('exec_failed', 'the command is shutting down'));
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, SWITCHBOARD_FROM: from },
        detached: true, // its own process group, so that killGroup reaches the shell's children too
      });
      this.#running.add(child);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let size = 0;
      let failure: { code: string; message: string } | undefined;
      const timer = setTimeout(() => {
        failure = { code: 'exec_timeout', message: `the command ran longer than ${timeoutMs} ms` };
        killGroup(child, 'SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_OUTPUT_BYTES) {
          failure ??= { code: 'exec_failed', message: `the command wrote more than ${MAX_OUTPUT_BYTES} bytes` };
          killGroup(child, 'SIGKILL');
        } else stdout.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < MAX_STDERR_CHUNKS) stderr.push(chunk);
      });
      child.stdin.on('error', () => {
        // A command that does not read its stdin closes the pipe early: not an error of ours.
      });
      child.stdin.end(raw && typeof message === 'string' ? message : `${JSON.stringify(message)}\n`);
      child.on('error', (error) => {
        failure ??= { code: 'exec_failed', message: error.message };
      });
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        this.#running.delete(child);
        if (failure === undefined && this.#stopped) failure = { code: 'exec_failed', message: 'the command was ended: the answerer is stopping' };
        if (failure === undefined && status !== 0) {
          const tail = Buffer.concat(stderr).toString().trim().slice(-500);
          failure = { code: 'exec_failed', message: `the command exited with ${status ?? signal}${tail ? `: ${tail}` : ''}` };
        }
        if (failure !== undefined) return reject(coded(failure.code, failure.message));
        resolve(parseOutput(Buffer.concat(stdout).toString(), raw));
      });
    });
  }

  /** End every running command (SIGTERM to its group, SIGKILL after `graceMs`) and wait for them. */
  async stop(graceMs = 1000): Promise<void> {
    this.#stopped = true;
    const children = [...this.#running];
    if (children.length === 0) return;
    const ended = children.map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('close', () => resolve()))));
    for (const child of children) killGroup(child, 'SIGTERM');
    const hard = setTimeout(() => children.forEach((child) => killGroup(child, 'SIGKILL')), graceMs);
    await Promise.all(ended);
    clearTimeout(hard);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal); // the group is gone already, or never was
  }
}

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Output as the answer: the text without its trailing newline (raw); else JSON as its value, other text as itself; nothing as null. */
function parseOutput(text: string, raw: boolean): unknown {
  const trimmed = text.replace(/\r?\n$/, '');
  if (raw) return trimmed;
  if (trimmed.trim() === '') return null;
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}
