/**
 * `switchboard serve --monitor HOST:PORT` as an operator runs it: the built command in its own process
 * serves the monitor, logs where, and stops it on SIGTERM; with `--monitor-readonly`, it refuses kicks.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { call } from '../fixtures/monitor.js';

const main = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const unbuilt = existsSync(main) ? false : 'dist/ is missing: run `npm run build`';

/** `switchboard serve` with the monitor on a free port and `extra` flags: the process, its exit, and the monitor's URL. */
async function serveMonitored(t: Test, extra: string[] = []) {
  const args = [main, 'serve', '--host', '127.0.0.1', '--port', '0', '--monitor', '127.0.0.1:0', '--log-format', 'json', ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  let monitor: string | undefined;
  while (monitor === undefined) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "monitor listening" line:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = output.split('\n').find((l) => l.includes('"monitor listening on '));
    if (line !== undefined) monitor = (JSON.parse(line) as { url: string }).url;
  }
  return { child, exited, monitor };
}

t.test('serve --monitor 127.0.0.1:0 serves the monitor until SIGTERM', { skip: unbuilt }, async (t) => {
  const { child, exited, monitor } = await serveMonitored(t);
  t.match(monitor, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.same((await call(monitor, '/readyz')).json, { status: 'ready' });
  t.match((await call(monitor, '/v1/server')).json, { server: { url: /^ws:\/\/127\.0\.0\.1:\d+\/$/ } });
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  await t.rejects(call(monitor, '/livez'), 'the monitor stopped with the broker');
});

t.test('serve --monitor-readonly: the monitor refuses kicks and says so to the dashboard', { skip: unbuilt }, async (t) => {
  const { child, exited, monitor } = await serveMonitored(t, ['--monitor-readonly']);
  t.match((await call(monitor, '/v1/access')).json, { readonly: true, write: false });
  t.match(await call(monitor, '/v1/names/anyone/kick', { method: 'POST' }), { status: 403, json: { message: /read-only/ } });
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
