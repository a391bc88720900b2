/**
 * Child processes of the benchmark: each broker and each load generator runs in its own process group,
 * talks to the bench over IPC, and is killed (group and all) when the bench is done with it, also when
 * the bench fails or is interrupted. Every wait has a deadline. CPU time and memory of a process are
 * read from /proc, the same way for a Node broker and for nats-server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type Message = { type: string; [key: string]: unknown };

const live = new Set<Child>();
const TAIL_BYTES = 4096;

/** A child process in its own process group, with an inbox of its IPC messages. */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  #inbox: Message[] = [];
  #wake: Array<() => void> = [];
  #exitCode: number | null | undefined;
  #tail = '';

  constructor(name: string, proc: ChildProcess) {
    this.name = name;
    this.proc = proc;
    live.add(this);
    const keep = (chunk: Buffer) => {
      this.#tail = (this.#tail + chunk.toString()).slice(-TAIL_BYTES);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.on('message', (message: Message) => {
      this.#inbox.push(message);
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        this.#exitCode = code;
        live.delete(this);
        this.#notify();
        resolve(code);
      };
      proc.once('exit', done);
      proc.once('error', (error) => {
        this.#tail += `\n${error.message}`;
        done(null);
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** What the process last printed (stdout and stderr), for error messages. */
  get tail(): string {
    return this.#tail.trim();
  }

  send(message: Message): void {
    if (this.proc.connected) this.proc.send(message);
  }

  /** The next IPC message of `type`; rejects when the process exits first, or after `timeoutMs`. */
  async next(type: string, timeoutMs: number): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (index !== -1) {
        const [message] = this.#inbox.splice(index, 1);
        if (message.type === 'error') throw new Error(`${this.name}: ${String(message.message)}`);
        return message;
      }
      if (!this.running) throw new Error(`${this.name} exited (${this.#exitCode}) before "${type}"${this.#describeTail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${type}" within ${timeoutMs} ms${this.#describeTail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every message of `type` received so far, removed from the inbox. */
  take(type: string): Message[] {
    const taken = this.#inbox.filter((m) => m.type === type);
    this.#inbox = this.#inbox.filter((m) => m.type !== type);
    return taken;
  }

  /** Ask the process to stop (IPC `stop`), then SIGTERM and SIGKILL its group if it does not exit in time. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.send({ type: 'stop' });
    if (await exitsWithin(this, graceMs)) return;
    this.signal('SIGTERM');
    if (await exitsWithin(this, 1000)) return;
    this.signal('SIGKILL');
    await exitsWithin(this, 1000);
  }

  /** Signal the whole process group (the child and anything it started). */
  signal(signal: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is gone already.
    }
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  #describeTail(): string {
    return this.tail === '' ? '' : `; it printed:\n${this.tail}`;
  }
}

async function exitsWithin(child: Child, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const exited = child.exited.then(() => true as const);
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  return result;
}

export interface SpawnOptions {
  execArgv?: string[];
  /** File descriptors the process needs; its soft limit is raised toward it when the hard limit allows. */
  fileDescriptors?: number;
}

/** Start `node <script> <args>` as the leader of a new process group, with an IPC channel. */
export function spawnNode(name: string, script: string, args: string[], options: SpawnOptions = {}): Child {
  const argv = [...(options.execArgv ?? []), script, ...args];
  const limit = options.fileDescriptors === undefined ? undefined : raisedLimit(options.fileDescriptors);
  const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc'];
  const proc =
    limit === undefined
      ? spawn(process.execPath, argv, { stdio, detached: true })
      : // Node cannot raise its own RLIMIT_NOFILE: a shell raises it and execs node (same pid).
        spawn('/bin/sh', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, ...argv], { stdio, detached: true });
  return new Child(name, proc);
}

export interface FileLimits {
  soft: number;
  hard: number;
}

let limitsCache: FileLimits | undefined;

/** This process's open-file limits (`ulimit -n`), as inherited by its children. */
export function fileLimits(): FileLimits {
  if (limitsCache !== undefined) return limitsCache;
  const parse = (text: string) => (text.trim() === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text.trim()));
  try {
    const [soft, hard] = execFileSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).split('\n');
    limitsCache = { soft: parse(soft), hard: parse(hard) };
  } catch {
    limitsCache = { soft: 1024, hard: 1024 };
  }
  return limitsCache;
}

/** The soft limit to set for a child that needs `needed` descriptors, or undefined when the current one will do. */
function raisedLimit(needed: number): number | undefined {
  const { soft, hard } = fileLimits();
  if (soft >= needed) return undefined;
  return Math.min(hard, needed);
}

/** Kill every child still running: SIGKILL to each group. Synchronous, for exit paths. */
export function killAll(): void {
  for (const child of live) child.signal('SIGKILL');
}

/** Children still running. */
export function liveChildren(): number {
  return live.size;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond;
  try {
    ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

export interface Usage {
  /** User plus system CPU time so far, in milliseconds. */
  cpuMs: number;
  /** Resident set size now, in bytes. */
  rssBytes: number;
  /** Peak resident set size, in bytes. */
  peakRssBytes: number;
}

/** CPU time and memory of process `pid`, from /proc (Linux). */
export function usage(pid: number): Usage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime and stime (fields 14 and 15 of proc(5))
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / clockTicks(), rssBytes: kib('VmRSS') * 1024, peakRssBytes: kib('VmHWM') * 1024 };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
