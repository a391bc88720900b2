/**
 * Where an app of local mode lives on this machine, for this user: its private directory, the socket
 * its host listens on, its locks (locks.ts) and its members directory (members.ts). Everything is
 * derived from the app's name and the directory, so processes that share nothing else (not an entry
 * file, not a parent) find each other.
 *
 * The directory is private (mode 0700, owned by this user): only this user's processes can reach the
 * socket inside it. It is `options.dir`, else `$SWITCHBOARD_LOCAL_DIR`, else `$XDG_RUNTIME_DIR/switchboard`,
 * else `<os.tmpdir()>/switchboard-<uid>`. A directory that exists but is not private is refused, never
 * repaired: someone else may have made it.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { SwitchboardError } from '../client/errors.js';
import { acquireAbstract, acquireFile, defaultLockKind, type Lock, type LockKind } from './locks.js';

/** An app name: it becomes part of file names and socket names. */
const APP = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

/** Unix socket paths hold at most 104 (macOS) to 108 (Linux) bytes with their final NUL. */
const MAX_SOCKET_PATH_BYTES = 100;

export interface Place {
  readonly app: string;
  readonly dir: string;
  /** The socket the host's broker listens on and every member connects to. */
  readonly socketPath: string;
  /** Where each member lists the names it holds (members.ts). */
  readonly membersDir: string;
  /** Where the host writes its pid (members.ts). */
  readonly hostFile: string;
  readonly lockKind: LockKind;
  /** One place per (directory, app, lock kind): the key of this process's Host for it. */
  readonly key: string;
  /** One attempt at the lock `what` (`host`, `slot.3`) of this app. */
  acquire(what: string): Promise<Lock | undefined>;
}

export function isApp(app: unknown): app is string {
  return typeof app === 'string' && APP.test(app);
}

/** The place of `app`; throws `invalid_argument` for a bad app name or a directory that is not private. */
export function placeOf(app: string, options: { dir?: string; lock?: LockKind } = {}): Place {
  if (!isApp(app)) {
    throw new SwitchboardError('invalid_argument', `app ${JSON.stringify(app)} must be 1 to 64 of A-Z a-z 0-9 _ . - (not starting with .)`);
  }
  const lockKind = options.lock ?? defaultLockKind();
  if (lockKind !== 'abstract' && lockKind !== 'file') throw new SwitchboardError('invalid_argument', 'lock must be "abstract" or "file"');
  if (lockKind === 'abstract' && process.platform !== 'linux') {
    throw new SwitchboardError('invalid_argument', 'lock "abstract" needs Linux (abstract Unix sockets)');
  }
  const dir = privateDirectory(options.dir ?? defaultDirectory());
  const dirHash = hash(dir);
  const user = userId();
  // Processes that elect with another kind of lock hold another election: they must not share a socket.
  const stem = lockKind === defaultLockKind() ? app : `${app}.${lockKind}`;
  return {
    app,
    dir,
    socketPath: socketPath(dir, dirHash, stem),
    membersDir: join(dir, `${stem}.members`),
    hostFile: join(dir, `${stem}.host`),
    lockKind,
    key: `${lockKind}:${dir}:${app}`,
    acquire: (what) =>
      lockKind === 'abstract'
        ? acquireAbstract(`switchboard/${user}/${dirHash}/${stem}.${what}`)
        : Promise.resolve(acquireFile(join(dir, `${stem}.${what}.lock`))),
  };
}

function defaultDirectory(): string {
  const configured = process.env.SWITCHBOARD_LOCAL_DIR;
  if (configured) return configured;
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) return join(runtime, 'switchboard');
  return join(tmpdir(), `switchboard-${userId()}`);
}

/** Make `dir` (0700) if it is missing; refuse one that is a link, not ours, or open to others. */
function privateDirectory(given: string): string {
  if (typeof given !== 'string' || given === '') throw new SwitchboardError('invalid_argument', 'dir must be a non-empty path');
  const dir = resolve(given);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SwitchboardError('invalid_argument', `cannot make the local mode directory ${dir}: ${(error as Error).message}`, { cause: error });
    }
  }
  const stat = lstatSync(dir);
  const problem = !stat.isDirectory()
    ? 'is not a directory (or is a symbolic link)'
    : process.platform === 'win32'
      ? undefined
      : process.getuid !== undefined && stat.uid !== process.getuid()
        ? 'belongs to another user'
        : (stat.mode & 0o077) !== 0
          ? `is open to other users (mode ${(stat.mode & 0o777).toString(8)}; it must be 700)`
          : undefined;
  if (problem !== undefined) throw new SwitchboardError('invalid_argument', `the local mode directory ${dir} ${problem}`);
  return dir;
}

function socketPath(dir: string, dirHash: string, stem: string): string {
  // Windows has no Unix socket files for Node's net: a named pipe (see README.md on what is untested).
  if (process.platform === 'win32') return `\\\\.\\pipe\\switchboard-${userId()}-${dirHash}-${stem}`;
  for (const file of [`${stem}.sock`, `${hash(stem)}.sock`]) {
    const path = join(dir, file);
    if (Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES) return path;
  }
  throw new SwitchboardError('invalid_argument', `the local mode directory ${dir} is too long for a Unix socket path: choose a shorter dir`);
}

function userId(): string {
  return process.getuid !== undefined ? String(process.getuid()) : userInfo().username.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
