/**
 * The stress run's processes talk over Node's IPC channel: the parent forks a role (broker, victim,
 * hostile, idle), sends it commands and waits for typed replies, every wait with a deadline. A child
 * exits when its parent goes away, so no process outlives the run.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface Reply {
  type: string;
  [key: string]: unknown;
}

export class Child {
  readonly role: string;
  readonly #process: ChildProcess;
  readonly #inbox: Reply[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(role: string, args: string[] = [], execArgv: string[] = []) {
    this.role = role;
    this.#process = fork(new URL(`./${role}.js`, import.meta.url), args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#process.on('message', (message) => {
      this.#inbox.push(message as Reply);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) =>
      this.#process.once('exit', (code) => {
        resolve(code);
        for (const wake of this.#waiters.splice(0)) wake();
      }),
    );
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  send(message: Reply): void {
    if (this.#process.connected) this.#process.send(message);
  }

  /** The next reply of `type`, or a rejection at the deadline (or when the child has exited). */
  async next(type: string, timeoutMs: number): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#inbox.findIndex((m) => m.type === type || m.type === 'fatal');
      if (at !== -1) {
        const [reply] = this.#inbox.splice(at, 1);
        if (reply.type === 'fatal') throw new Error(`${this.role}: ${String(reply.message)}`);
        return reply;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.role}: no "${type}" within ${timeoutMs} ms`);
      if (this.#process.exitCode !== null || this.#process.signalCode !== null) throw new Error(`${this.role} exited before "${type}"`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Ask for `type` and wait for the reply of `replyType`. */
  async ask(message: Reply, replyType: string, timeoutMs: number): Promise<Reply> {
    this.send(message);
    return this.next(replyType, timeoutMs);
  }

  /** Ask the child to stop; kill it (this process only) if it has not exited within the grace. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** In a child: handle the parent's commands, report failures as `fatal`, and exit with the parent. */
export function serveParent(handle: (message: Reply) => Promise<void> | void): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message) => {
    Promise.resolve(handle(message as Reply)).catch((error: unknown) => {
      reply({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    });
  });
}

export function reply(message: Reply): void {
  process.send?.(message);
}

/** The value at quantile `q` (0..1) of `sorted`, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
