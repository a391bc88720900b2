/**
 * A real `redis-server` (Debian's package, which .ci/run installs) started for a run and owned by it: on
 * a free loopback port, in a fresh folder, without persistence unless asked (`appendonly` turns on AOF
 * with `appendfsync always`). It can be stopped, killed with SIGKILL and restarted on the same port and
 * folder; `close()` stops it for good and removes the folder. Used by the cluster bench (lib/bench/cluster.ts) and, through
 * test/fixtures/redis.ts, by the tests. Every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The folder given as `--dir` (kept across restarts). */
  readonly dir: string;
  /** The pid of the running server (it changes with restart); undefined once it has exited. */
  readonly pid: number | undefined;
  /** SIGTERM, and wait for it to exit (SIGKILL after STOP_MS); the folder stays for a restart. */
  stop(): Promise<void>;
  /** SIGKILL, and wait for it to exit; the folder stays for a restart. */
  kill9(): Promise<void>;
  /** Start it again on the same port and folder (SIGKILL first if it runs); resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGKILL if it runs, and remove its folder: the end of it. */
  close(): Promise<void>;
}

export interface RedisOptions {
  /** AOF with `appendfsync always`. Default: no persistence at all (`--save ''`, `--appendonly no`). */
  readonly appendonly?: boolean;
  /** The executable. Default: `redis-server` from PATH. */
  readonly executable?: string;
  /** How long to wait for the first PONG. Default: START_MS. */
  readonly startMs?: number;
}

const HOST = '127.0.0.1';
/** Default deadline for a start or restart to answer PING. */
export const START_MS = 10_000;
/** How long a SIGTERM is given before SIGKILL. */
const STOP_MS = 5_000;
const OUTPUT_BYTES = 4096;

/** A port nobody listens on now: listen on port 0, read the port, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedisServer(options: RedisOptions = {}): Promise<RedisServer> {
  const executable = options.executable ?? 'redis-server';
  const startMs = options.startMs ?? START_MS;
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  const port = await freePort();
  const persistence = options.appendonly === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--protected-mode', 'no', ...persistence];
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const started = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    let failure: Error | undefined;
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_BYTES));
    started.stdout!.on('data', keep);
    started.stderr!.on('data', keep);
    // An executable that is not there ends in 'error', not 'exit'.
    started.once('error', (error) => (failure = error));
    const deadline = Date.now() + startMs;
    while (!(await answers(port))) {
      if (failure !== undefined) throw new Error(`${executable} could not be started: ${failure.message}`, { cause: failure });
      if (!running(started)) throw new Error(`${executable} exited (${started.exitCode ?? started.signalCode}): ${output}`);
      if (Date.now() > deadline) {
        await end('SIGKILL');
        throw new Error(`${executable} did not answer on port ${port} within ${startMs} ms: ${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const target = child;
    if (target === undefined || !running(target)) return;
    const exited = new Promise<void>((resolve) => target.once('exit', () => resolve()));
    target.kill(signal);
    const force = setTimeout(() => target.kill('SIGKILL'), STOP_MS);
    await exited;
    clearTimeout(force);
  };

  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `redis://${HOST}:${port}`,
    port,
    dir,
    get pid() {
      return child !== undefined && running(child) ? child.pid : undefined;
    },
    stop: () => end('SIGTERM'),
    kill9: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGKILL');
      await start();
    },
    close: async () => {
      await end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
}

/** True when a PING on `port` gets PONG within a second. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: HOST });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
