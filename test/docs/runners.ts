/**
 * How the docs test runs a README's code blocks, as a user would, against a real broker on a free port.
 *
 * Every block runs in one temporary folder whose `node_modules/switchboard` links to this repository, so
 * `import ... from 'switchboard/client'` resolves, through package.json's exports, to the built dist/.
 * That folder's `bin/` comes first on PATH: `switchboard` there runs dist/cli/main.js with the block's
 * broker as `--url`, and `npx switchboard` runs that one (nothing is fetched from a registry).
 *
 * - js / ts: the block is a program (an ES module), run with node to its exit.
 * - sh: each command runs with bash, in order, from the temporary folder. `switchboard answer` and
 *   `switchboard subscribe`, which serve until stopped ("terminal 1"), run in the background: the next
 *   command starts once they say they are ready, and they get SIGINT when the block is done. What the
 *   block printed is the commands' stdout, in order, then what the background commands printed.
 * Every process has a deadline and is killed (its process group) when it passes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { matches } from './blocks.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist/cli/main.js');
/** A program's deadline, and one shell command's. */
export const PROGRAM_MS = 20_000;
const COMMAND_MS = 15_000;
/** How long a background command may take to say it is ready, and to stop. */
const READY_MS = 10_000;
/** How long, after its last command, a block's output may take to become what was promised. */
const SETTLE_MS = 5_000;

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Workspace {
  dir: string;
  /** The environment of every block: bin/ first on PATH, no token. */
  env: NodeJS.ProcessEnv;
}

/** The temporary folder the blocks run in; removed when the test ends. */
export function workspace(t: Test): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'sb-docs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'switchboard'), 'dir');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script(
    'switchboard',
    [
      'case "$1" in',
      `  request|answer|publish|subscribe) cmd="$1"; shift; exec "${process.execPath}" "${CLI}" "$cmd" --url "$SWITCHBOARD_DOCS_URL" "$@" ;;`,
      `  *) exec "${process.execPath}" "${CLI}" "$@" ;;`,
      'esac',
    ].join('\n'),
  );
  script('npx', 'if [ "$1" = switchboard ]; then shift; exec switchboard "$@"; fi\necho "the docs test runs only npx switchboard, not npx $1" >&2; exit 127');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
  delete env.SWITCHBOARD_TOKEN;
  delete env.NODE_OPTIONS; // tap's loader is not the user's
  return { dir, env };
}

/** A started process: its output so far, and its end. */
export interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  done: Promise<Ran>;
}

export function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const done = new Promise<Ran>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, ...out })));
  return { child, out, done };
}

/** Signal the process group (the command and whatever it started), if it still runs. */
export function signal(running: Running, name: NodeJS.Signals): void {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  try {
    process.kill(-running.child.pid!, name);
  } catch {
    // already gone
  }
}

/** Its end, or SIGKILL and a rejection naming `what` once `ms` have passed. */
export async function finished(running: Running, ms: number, what: string): Promise<Ran> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      signal(running, 'SIGKILL');
      reject(new Error(`${what}: still running after ${ms} ms\nstdout: ${running.out.stdout}\nstderr: ${running.out.stderr}`));
    }, ms);
  });
  return Promise.race([running.done, late]).finally(() => clearTimeout(timer));
}

/** Resolves true once `predicate()` holds, or false once `ms` have passed. */
export async function eventually(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** A js or ts block, run as a program to its exit. */
export async function runProgram(ws: Workspace, name: string, lang: string, code: string): Promise<Ran> {
  const file = join(ws.dir, `${name}.${lang === 'ts' ? 'mts' : 'mjs'}`);
  writeFileSync(file, code);
  const args = lang === 'ts' ? [`--import=${import.meta.resolve('@tapjs/typescript/import')}`, file] : [file];
  const env = lang === 'ts' ? { ...ws.env, TS_NODE_TRANSPILE_ONLY: '1' } : ws.env;
  return finished(start(process.execPath, args, ws.dir, env), PROGRAM_MS, name);
}

const LONG_RUNNING = /^(?:\w+=\S*\s+)*(?:npx\s+)?switchboard\s+(?:answer|subscribe)\b/;
const READY = /^switchboard (?:answer: answering as|subscribe: subscribed to) /m;

/** The commands of a shell block: continuation lines joined, blank and comment-only lines dropped. */
export function commands(code: string): string[] {
  return code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export interface ShellRun {
  /** What the block printed: the foreground commands' stdout in order, then the background commands'. */
  printed: string;
  /** Every command with its exit and stderr, for a failure message. */
  log: string[];
  /** Problems that fail the block whatever it printed: a command that did not start or stop cleanly. */
  problems: string[];
}

/** A sh block against the broker at `url`; `expected` is only waited for, never asserted here. */
export async function runShell(ws: Workspace, code: string, url: string, expected: string): Promise<ShellRun> {
  const env = { ...ws.env, SWITCHBOARD_DOCS_URL: url };
  const background: Array<{ command: string; running: Running }> = [];
  const log: string[] = [];
  const problems: string[] = [];
  let foreground = '';
  const printed = () => foreground + background.map((b) => b.running.out.stdout).join('');
  try {
    for (const command of commands(code)) {
      const running = start('bash', ['-c', command], ws.dir, env);
      if (LONG_RUNNING.test(command)) {
        background.push({ command, running });
        const ready = await eventually(() => READY.test(running.out.stderr) || running.child.exitCode !== null, READY_MS);
        if (!ready || running.child.exitCode !== null) {
          problems.push(`\`${command}\` did not become ready (exit ${running.child.exitCode}): ${running.out.stderr}`);
          return { printed: printed(), log, problems };
        }
        continue;
      }
      const ran = await finished(running, COMMAND_MS, command);
      foreground += ran.stdout;
      log.push(`$ ${command}\n  exit ${ran.code}; stderr: ${ran.stderr.trim()}`);
    }
    await eventually(() => matches(expected, printed()), SETTLE_MS);
  } finally {
    for (const { command, running } of background) {
      signal(running, 'SIGINT');
      try {
        const ran = await finished(running, READY_MS, command);
        if (ran.code !== 0) problems.push(`\`${command}\` exited ${ran.code ?? ran.signal} on SIGINT: ${ran.stderr}`);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  return { printed: printed(), log, problems };
}
