#!/usr/bin/env node
// Runs the tap suite, streams its TAP output, and ends with the line CI reads: "tests: N passed, N failed".
// Counts are the named tests of every file (TAP subtests one level below the file), plus files that
// failed with no named test failing (a crash at load, a timeout). The failures are listed again just
// above that line, so that a reader of a CI log's last lines sees which failed. The exit code is tap's.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const tap = spawn('npx', ['tap', '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, NO_COLOR: '1' },
});
let passed = 0;
let failed = 0;
const failures = [];
let pending = []; // failed subtests of the file whose TAP is streaming now; the file's line comes after them
const lines = createInterface({ input: tap.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  if (/^    ok \d+ /.test(line)) passed++;
  else if (/^    not ok \d+ /.test(line)) {
    failed++;
    pending.push(line.replace(/^    not ok \d+ - /, ''));
  } else if (/^not ok \d+ - test\//.test(line)) {
    if (!pending.length) failed++; // a file that failed outside its named tests (a crash, a timeout) counts once
    const file = line.replace(/^not ok \d+ - /, '').replace(/ # time=.*$/, '');
    failures.push(...(pending.length ? pending.map((t) => `${file}: ${t}`) : [`${file}: (the file failed)`]));
  }
  if (/^(not )?ok \d+ - test\//.test(line)) pending = [];
});
tap.on('close', (code) => {
  if (failures.length) console.log(`\nfailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
  console.log(`\ntests: ${passed} passed, ${failed} failed`);
  process.exit(code ?? 1);
});
