#!/usr/bin/env node
// Runs the tap suite, streams its TAP output, and ends with the line CI reads: "tests: N passed, N failed".
// Counts are the named tests of every file (TAP subtests one level below the file), plus files that
// failed to load. The exit code is tap's.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const tap = spawn('npx', ['tap', '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, NO_COLOR: '1' },
});
let passed = 0;
let failed = 0;
const lines = createInterface({ input: tap.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  if (/^    ok \d+ /.test(line)) passed++;
  else if (/^    not ok \d+ /.test(line)) failed++;
  else if (/^not ok \d+ - test\//.test(line)) failed++;
});
tap.on('close', (code) => {
  console.log(`\ntests: ${passed} passed, ${failed} failed`);
  process.exit(code ?? 1);
});
