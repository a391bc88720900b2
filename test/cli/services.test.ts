/**
 * `switchboard services` and `switchboard call` (protocol.md section 14), as a user runs them: the built
 * CLI against a real broker, with services served by clients of this process. Needs a build (skipped
 * with the reason otherwise).
 */
import t from 'tap';
import Type from 'typebox';
import { defineService } from '../../lib/client/node.js';
import { run as call } from '../../lib/cli/call.js';
import { render } from '../../lib/cli/services.js';
import { startBroker } from '../fixtures/broker.js';
import { built } from '../fixtures/broker-process.js';
import { cli, inProcess } from '../fixtures/cli.js';
import { readyClient } from '../fixtures/clients.js';

const skip = built();

const Calc = defineService({
  version: '1.2.0',
  methods: { add: { request: Type.Object({ a: Type.Number(), b: Type.Number() }), answer: Type.Number() } },
});
const Echo = defineService({ version: '0.3.0', methods: { say: { request: Type.String(), answer: Type.String() } } });

t.test('switchboard services lists two services with their stats; --json the raw list [SB-14-4] [SB-14-5]', { skip }, async (t) => {
  const { url } = await startBroker(t);
  const server = await readyClient(t, url);
  await server.serve(Calc, 'calc', { add: ({ a, b }) => a + b });
  await server.serve(Echo, 'echo', { say: (text) => text });
  const caller = await readyClient(t, url);
  const calc = caller.service(Calc, 'calc');
  await calc.add({ a: 1, b: 2 });
  await calc.add({ a: 3, b: 4 });
  await caller.request('calc', { a: 'x' }, { event: 'add' }).catch(() => undefined);
  await caller.service(Echo, 'echo').say('hi');

  const listed = await cli(['services', '--url', url]);
  t.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split('\n');
  t.match(lines[0], /^id\s+version\s+members\s+methods\s+requests\s+errors\s+timeouts\s+p50 ms\s+p99 ms$/);
  t.match(lines[1], /^calc\s+1\.2\.0\s+1\s+add\s+3\s+1\s+0\s+[\d.]+\s+[\d.]+$/);
  t.match(lines[2], /^echo\s+0\.3\.0\s+1\s+say\s+1\s+0\s+0\s+[\d.]+\s+[\d.]+$/);
  t.equal(lines.length, 3);

  const json = await cli(['services', 'echo', '--json'], { env: { SWITCHBOARD_URL: url } });
  t.equal(json.code, 0, json.stderr);
  t.match(JSON.parse(json.stdout), [{ id: 'echo', version: '0.3.0', members: 1, methods: { say: { request: { type: 'string' } } }, stats: { requests: 1 } }]);
  t.equal(render([]), 'no services\n');
});

t.test('switchboard call checks the request against the announced schema, then calls the method', async (t) => {
  const { url } = await startBroker(t);
  const server = await readyClient(t, url);
  let runs = 0;
  await server.serve(Calc, 'calc', { add: ({ a, b }) => (runs++, a + b) });

  const ok = await inProcess(call, ['calc.add', '{"a":1,"b":2}', '--url', url]);
  t.same(ok, { code: 0, stdout: '3\n', stderr: '' });

  const bad = await inProcess(call, ['calc.add', '{"a":1}', '--url', url]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /the request does not match the schema of calc\.add: .*must have required properties b/);
  t.equal(runs, 1, 'nothing was sent');

  const noMethod = await inProcess(call, ['calc.sub', '{}', '--url', url]);
  t.equal(noMethod.code, 2);
  t.match(noMethod.stderr, /"calc" has no method "sub"; its methods: add/);

  const noService = await inProcess(call, ['nobody.add', '{}', '--url', url]);
  t.equal(noService.code, 1);
  t.match(noService.stderr, /no service "nobody" is announced/);

  const usage = await inProcess(call, ['calc', '{}', '--url', url]);
  t.equal(usage.code, 2);
});
