#!/usr/bin/env node
/**
 * `npm start`, `prepare` and `prepack`: build dist/ only when it is missing or older than its sources,
 * then, given a command, run the CLI in this same process (so that signals reach the broker directly).
 *
 *   node scripts/ensure-built.mjs serve --port 8080   build if stale, then `switchboard serve --port 8080`
 *   node scripts/ensure-built.mjs                     build if stale (prepare)
 *   node scripts/ensure-built.mjs --clean             remove dist/ and build it whole (prepack)
 *
 * Why not `npm run build && ...` on every start: the build takes seconds, the broker starts in well under
 * one. Why not only `prepare`: the project's .npmrc sets ignore-scripts (a devDependency needs it), so
 * `npm install` runs no lifecycle script, and `npm install && npm start` must still work on a fresh clone.
 * The check compares modification times: the newest .ts file under lib/ (and tsconfig.json) against
 * dist/cli/main.js, which every build writes; it reads a few hundred directory entries, a few milliseconds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUTPUT = join(ROOT, 'dist/cli/main.js');

/** Why dist/ needs a build, or undefined when it is current. */
function staleness() {
  if (!existsSync(OUTPUT)) return 'dist/ is not built';
  const built = statSync(OUTPUT).mtimeMs;
  const newer = [join(ROOT, 'tsconfig.json'), ...files(join(ROOT, 'lib'))].find((file) => statSync(file).mtimeMs > built);
  return newer === undefined ? undefined : `${newer.slice(ROOT.length)} is newer than dist/`;
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

function build(reason) {
  let tsc;
  try {
    tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write(`switchboard: ${reason}, and TypeScript is not installed to build it: run \`npm install\` (with dev dependencies)\n`);
    process.exit(1);
  }
  process.stderr.write(`switchboard: ${reason}: building (tsc -p .) ...\n`);
  const started = performance.now();
  const { status, signal } = spawnSync(process.execPath, [tsc, '-p', ROOT], { cwd: ROOT, stdio: 'inherit' });
  if (status !== 0) {
    process.stderr.write(`switchboard: the build failed (${status ?? signal})\n`);
    process.exit(1);
  }
  process.stderr.write(`switchboard: built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

const args = process.argv.slice(2);
if (args[0] === '--clean') {
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  build('a clean build');
} else {
  const reason = staleness();
  if (reason !== undefined) build(reason);
  if (args.length > 0) {
    process.argv = [process.argv[0], OUTPUT, ...args];
    await import(pathToFileURL(OUTPUT).href);
  }
}
