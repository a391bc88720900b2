/**
 * Locks that end with their process, for the election of the host and for the slots of local mode
 * (README.md in this directory). Acquiring is one attempt, never a wait: it resolves with the lock, or
 * with undefined when a live process holds it.
 *
 * - `abstract` (Linux): a listening Unix socket in the abstract namespace (a name starting with `\0`).
 *   Binding it is atomic, and the kernel frees it when the process dies, however it dies (`kill -9`
 *   included): no stale lock, no `ps`, no race.
 * - `file` (elsewhere): a file created with `link()` (atomic, fails if it exists) holding the pid. A lock
 *   whose pid is dead is stale: it is moved aside under a unique name and checked before it is removed,
 *   so two processes breaking the same stale lock do not both win. What it cannot rule out: a stale lock
 *   broken by two processes and re-created by a third within the same few microseconds (the mover then
 *   puts back the live one, which can fail), and a dead holder's pid reused by an unrelated process (the
 *   lock then looks held until that process ends).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

export type LockKind = 'abstract' | 'file';

export interface Lock {
  /** Give the lock up; idempotent. */
  release(): Promise<void>;
}

/** The kind that fits this platform: abstract sockets exist only on Linux. */
export function defaultLockKind(): LockKind {
  return process.platform === 'linux' ? 'abstract' : 'file';
}

/** Bind `\0name`; undefined when another socket holds it. */
export async function acquireAbstract(name: string): Promise<Lock | undefined> {
  // Nobody is meant to connect; whoever does is let go at once.
  const server = createServer((socket) => socket.destroy());
  const bound = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(false) : reject(error)));
    server.listen({ path: `\0${name}` }, () => resolve(true));
  });
  if (!bound) return undefined;
  // A lock never keeps its process alive: what it guards (a broker, a client) does, while it matters.
  server.unref();
  let released: Promise<void> | undefined;
  return { release: () => (released ??= new Promise((resolve) => server.close(() => resolve()))) };
}

/** Create the lock file `path` holding this process's pid; undefined when a live process holds it. */
export function acquireFile(path: string): Lock | undefined {
  // Three rounds: each either wins, finds a live holder, or cleared a stale lock for the next round.
  for (let round = 0; round < 3; round++) {
    if (create(path)) {
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          if (readPid(path) === process.pid) removeQuietly(path);
        },
      };
    }
    const holder = readPid(path);
    if (holder === undefined) continue; // released meanwhile: try again
    if (alive(holder)) return undefined;
    const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it first
    }
    if (readPid(aside) !== holder) {
      // A live lock replaced the stale one between the read and the move: put it back, it is not ours.
      try {
        linkSync(aside, path);
      } catch {
        // Another process created the lock meanwhile: it holds it now.
      }
      removeQuietly(aside);
      return undefined;
    }
    removeQuietly(aside);
  }
  return undefined;
}

/**
 * True when process `pid` runs (EPERM: it exists, and belongs to another user). A process killed a
 * moment ago is a zombie until its parent reaps it, and `kill(pid, 0)` still finds it: on Linux its
 * state in /proc says it is dead.
 */
export function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return process.platform !== 'linux' || !zombie(pid);
}

/** The state letter after the command's closing parenthesis in /proc/<pid>/stat: Z zombie, X dead. */
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true; // gone between the two looks
  }
}

/** Write the pid to a private temporary file, then link it into place: the lock file is never seen empty. */
function create(path: string): boolean {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${process.pid}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    removeQuietly(temporary);
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
