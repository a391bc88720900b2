/**
 * The members directory of an app: one small file per local client, `<pid>.<n>.json`, listing the names
 * it holds. It exists for one moment: a takeover. The new host has never seen the names of the
 * processes that were connected to the old one, and they come back over a few milliseconds, each at
 * its own pace; what one of them sends in that window to another that is not back yet would find no
 * such name (`unknown`, `no_responders`). So before it listens, the new host opens a mailbox
 * (protocol.md 6.3) for every name a live member lists: what is sent to it waits there and arrives, in
 * order, when its holder registers again, or expires (`expired`, `timeout`) after the broker's
 * `maxMailboxAgeMs` when it does not come back. Files of dead processes are removed as they are found.
 *
 * Whether a process is alive is asked of the system (locks.ts `alive`), which may still see a process
 * killed a moment ago (its sockets closed, its last threads not yet gone). The one process certain to
 * be dead at a takeover, the previous host, is therefore named by the host file: each host writes its
 * pid there, and the next one skips that pid's names.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from './locks.js';
import type { Place } from './place.js';

const FILE = /^(\d+)\.(\d+)\.json$/;

let serial = 0;

/** The file of one local client of this process. */
export class MemberFile {
  readonly #dir: string;
  readonly #path: string;
  #removed = false;

  constructor(place: Place) {
    this.#dir = place.membersDir;
    this.#path = join(this.#dir, `${process.pid}.${++serial}.json`);
  }

  /** List `names` (replacing the last list); written whole, never seen half-written. */
  write(names: readonly string[]): void {
    if (this.#removed) return;
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.#path}.tmp`;
    writeFileSync(temporary, JSON.stringify({ names }), { mode: 0o600 });
    renameSync(temporary, this.#path);
  }

  remove(): void {
    this.#removed = true;
    removeQuietly(this.#path);
  }
}

/** Record this process as the host (see the file's opening). */
export function writeHostPid(place: Place): void {
  const temporary = `${place.hostFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${process.pid}\n`, { mode: 0o600 });
  renameSync(temporary, place.hostFile);
}

/** This process stops hosting of its own accord: no pid to skip at the next election. */
export function clearHostPid(place: Place): void {
  if (previousHostPid(place) === process.pid) removeQuietly(place.hostFile);
}

/** The pid of the last process that hosted, if any. */
export function previousHostPid(place: Place): number | undefined {
  try {
    const pid = Number(readFileSync(place.hostFile, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every name listed by a live member (this process included), except the members of process `dead`;
 * files of dead processes are removed.
 */
export function liveMemberNames(place: Place, dead?: number): string[] {
  let files: string[];
  try {
    files = readdirSync(place.membersDir);
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const file of files) {
    const match = FILE.exec(file);
    if (match === null) continue;
    const path = join(place.membersDir, file);
    const pid = Number(match[1]);
    if (pid === dead || !alive(pid)) {
      removeQuietly(path);
      continue;
    }
    try {
      const listed = (JSON.parse(readFileSync(path, 'utf8')) as { names?: unknown }).names;
      if (Array.isArray(listed)) for (const name of listed) if (typeof name === 'string') names.add(name);
    } catch {
      // removed or being replaced as we read: its holder registers its names anyway
    }
  }
  return [...names];
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
