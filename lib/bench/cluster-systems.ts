/**
 * The systems of the cluster bench (lib/bench/cluster.ts), each started in processes of its own and
 * owned by one `Owned` that stops them all at the end, also when the run fails: `switchboard serve`
 * nodes (with or without `--cluster`), socket.io servers on `@socket.io/redis-adapter`
 * (brokers/socketio-cluster.ts) and nats-server processes joined with `--routes`. Each start waits for
 * the process to say it listens, with a deadline, and rejects with the reason (and the tail of its
 * output) when it cannot: the bench then prints that system as skipped.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findNatsServer } from './brokers.js';
import { freePort } from './redis.js';

const HOST = '127.0.0.1';
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const SOCKETIO_NODE = fileURLToPath(new URL('./brokers/socketio-cluster.js', import.meta.url));
/** How long a process may take to listen. */
const START_MS = 15_000;
/** How long a process is given after SIGTERM before SIGKILL. */
const STOP_MS = 3_000;
const OUTPUT_BYTES = 8192;

/** Processes to stop, and anything else to end, whatever happens. */
export class Owned {
  readonly #children: ChildProcess[] = [];
  readonly #others: Array<{ close: () => Promise<void>; kill: () => void }> = [];

  child(child: ChildProcess): ChildProcess {
    this.#children.push(child);
    return child;
  }

  /** The pids of the processes added since there were `count` (as `count` read then). */
  pidsSince(count: number): number[] {
    return this.#children.slice(count).flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  get count(): number {
    return this.#children.length;
  }

  /** Something else to end: `close` at the end of the run, `kill` (synchronous) if the process is leaving. */
  other(close: () => Promise<void>, kill: () => void): void {
    this.#others.push({ close, kill });
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map(stopChild));
    await Promise.allSettled(this.#others.map((other) => other.close()));
  }

  /** SIGKILL to everything still running, synchronously: for the exit paths (a signal, process.exit). */
  killNow(): void {
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const other of this.#others) {
      try {
        other.kill();
      } catch {
        // Already gone.
      }
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** `switchboard serve` on a free port, with `args` (e.g. `--cluster URL`); resolves with its port. */
export async function serve(owned: Owned, args: readonly string[]): Promise<number> {
  const child = owned.child(
    spawn(process.execPath, [CLI, 'serve', '--host', HOST, '--port', '0', '--log-format', 'json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const found = await waitFor(child, /listening on ws:\/\/[^:]+:(\d+)\//, 'switchboard serve');
  return Number(found[1]);
}

/** One socket.io server on the Redis at `redis`; resolves with its port. */
export async function socketioNode(owned: Owned, redis: string): Promise<number> {
  const child = owned.child(fork(SOCKETIO_NODE, [redis], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket.io server: not listening within ${START_MS} ms`)), START_MS);
    child.on('message', (message: { type?: string; port?: number; message?: string }) => {
      if (message.type === 'listening') {
        clearTimeout(timer);
        resolve(message.port as number);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`socket.io server: ${message.message}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socket.io server exited (${code})`));
    });
  });
}

/** Two nats-server processes routed to each other; resolves with their client ports once the route is up. */
export async function natsCluster(owned: Owned): Promise<[number, number]> {
  const executable = findNatsServer();
  if (executable === undefined) throw new Error('nats-server is not installed (Debian: apt-get install -y nats-server)');
  const [c1, c2, p1, p2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const node = (port: number, cluster: number, other: number) =>
    owned.child(
      spawn(executable, ['-a', HOST, '-p', String(port), '--cluster', `nats://${HOST}:${cluster}`, '--routes', `nats://${HOST}:${other}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  const one = node(p1, c1, c2);
  const two = node(p2, c2, c1);
  // Each side logs the route once it is up, whichever of the two dialled.
  await Promise.all([waitFor(one, /Route connection created/, 'nats-server'), waitFor(two, /Route connection created/, 'nats-server')]);
  return [p1, p2];
}

/** Resolve with the first match of `pattern` in the child's output; reject at the deadline or its exit. */
function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const settle = (outcome: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', read);
      child.stderr?.off('data', read);
      outcome();
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`${what}: not ready within ${START_MS} ms: ${tail(output)}`))), START_MS);
    const read = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_BYTES);
      const found = pattern.exec(output);
      if (found !== null) settle(() => resolve(found));
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    // The output must keep flowing after the match, or a chatty process would block on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
    child.once('error', (error) => settle(() => reject(new Error(`${what}: ${error.message}`))));
    child.once('exit', (code, signal) => settle(() => reject(new Error(`${what} exited (${code ?? signal}): ${tail(output)}`))));
  });
}

/** The last lines of a process's output, on one line, for a "skipped" reason. */
function tail(output: string): string {
  return output.trim().split('\n').slice(-3).join(' / ').slice(-400);
}
