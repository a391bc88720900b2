/**
 * Hostile HTTP upgrades, written by hand over node:net (robustness.md, "Handshake and transport";
 * protocol.md section 2): wrong paths, methods and versions, thousands of headers, pathological
 * `Sec-WebSocket-Protocol` values. Each is refused with an HTTP status (or a bare TCP close where Node's
 * parser gives up before the broker sees a request), the broker keeps accepting, and a victim doing
 * request/answer on the same broker is unaffected.
 */
import t, { type Test } from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { RawPeer, upgrade, type UpgradeOptions } from '../fixtures/raw.js';
import { startVictim } from '../fixtures/victim.js';

/** Run `attack` against a fresh broker while a victim works before and after it. */
async function underAttack(t: Test, attack: (port: number) => Promise<void>, options = {}): Promise<void> {
  const { broker, url, port } = await startBroker(t, options);
  const victim = await startVictim(url);
  await victim.check(t, 'before the attack');
  await attack(port);
  await victim.check(t, 'after the attack');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
}

async function expectStatus(t: Test, port: number, options: UpgradeOptions, status: number, what: string): Promise<string> {
  const result = await upgrade(port, options);
  result.socket.destroy();
  t.equal(result.status, status, what);
  return result.head;
}

t.test('upgrades to any other path are refused with HTTP 404 before the upgrade [SB-2-1]', (t) =>
  underAttack(
    t,
    async (port) => {
      for (const path of ['/other', '//', '/%2F', '/./', '/' + 'a'.repeat(4000), 'http://127.0.0.1/x', '*']) {
        await expectStatus(t, port, { path, protocol: 'switchboard.v1' }, 404, `path ${path.slice(0, 40)}`);
      }
      await expectStatus(t, port, { path: '/broker', protocol: 'switchboard.v1' }, 101, 'the configured path still upgrades');
    },
    { path: '/broker' },
  ).then(() => undefined),
);

t.test('malformed upgrade requests get 400 or 405 and never a WebSocket', (t) =>
  underAttack(t, async (port) => {
    await expectStatus(t, port, { method: 'POST' }, 405, 'a POST upgrade');
    await expectStatus(t, port, { override: { upgrade: 'h2c' } }, 400, 'Upgrade: h2c');
    await expectStatus(t, port, { override: { 'sec-websocket-key': null } }, 400, 'no Sec-WebSocket-Key');
    await expectStatus(t, port, { override: { 'sec-websocket-key': 'short' } }, 400, 'a malformed Sec-WebSocket-Key');
    const head = await expectStatus(t, port, { override: { 'sec-websocket-version': '12' } }, 400, 'version 12');
    t.match(head, /Sec-WebSocket-Version: 13, 8/i, 'the 400 names the versions the broker speaks');
    await expectStatus(t, port, { override: { 'sec-websocket-version': null } }, 400, 'no version');
  }),
);

t.test('thousands of headers: the WebSocket headers past the count limit are dropped and the upgrade gets 400', (t) =>
  underAttack(t, async (port) => {
    // ws before 8.17.1 crashed on this (CVE-2024-37890): Node drops headers past maxHeadersCount (2000).
    const junk = Array.from({ length: 2500 }, (_, i) => `x${i}: 1`);
    await expectStatus(t, port, { before: junk, protocol: 'switchboard.v1' }, 400, '2,500 headers before the WebSocket ones');
    const tail = Array.from({ length: 1900 }, (_, i) => `x${i}: 1`);
    await expectStatus(t, port, { after: tail, protocol: 'switchboard.v1' }, 101, '1,900 headers after them still upgrade');
  }),
);

t.test('a header block over Node\'s 16 KiB limit is dropped without an upgrade', (t) =>
  underAttack(t, async (port) => {
    const big = Array.from({ length: 400 }, (_, i) => `x-${i}: ${'v'.repeat(60)}`);
    const result = await upgrade(port, { before: big, protocol: 'switchboard.v1' });
    // The broker's clientError handler destroys the socket: no status line at all (Node's own default would be 431).
    t.equal(result.status, 0, 'the connection is closed without any answer');
    t.ok(result.socket.destroyed, 'and without a WebSocket');
  }),
);

t.test('pathological Sec-WebSocket-Protocol values are refused with 400 or fall back to legacy [SB-2-2]', (t) =>
  underAttack(t, async (port) => {
    for (const [protocol, what] of [
      ['switchboard.v1, switchboard.v1', 'a duplicate'],
      ['switchboard.v1, a b', 'a space inside a token'],
      ['switchboard.v1;q=1', 'a separator character'],
      [', '.repeat(5000), '10 KB of empty tokens'],
      ['switchboard.v1,', 'a trailing comma'],
      ['é', 'a non-ASCII byte'],
    ] as const) {
      await expectStatus(t, port, { protocol }, 400, what);
    }
    const many = [...Array.from({ length: 1000 }, (_, i) => `p${i}`), 'switchboard.v1'].join(', ');
    const head = await expectStatus(t, port, { protocol: many }, 101, '1,001 distinct tokens');
    t.match(head, /sec-websocket-protocol: switchboard\.v1/i, 'switchboard.v1 is found among them');
    const long = await expectStatus(t, port, { protocol: 'p'.repeat(12_000) }, 101, 'one 12 KB token');
    t.notMatch(long, /sec-websocket-protocol/i, 'an unknown token selects no subprotocol: the legacy dialect');
    const caseChanged = await expectStatus(t, port, { protocol: 'Switchboard.V1' }, 101, 'Switchboard.V1');
    t.notMatch(caseChanged, /sec-websocket-protocol/i, 'subprotocols are compared exactly');
  }),
);

t.test('a flood of refused upgrades leaves the broker accepting', (t) =>
  underAttack(t, async (port) => {
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => upgrade(port, i % 2 === 0 ? { path: '/nope' } : { override: { 'sec-websocket-key': 'x' } })),
    );
    t.same(new Set(statuses.map((r) => r.status)), new Set([404, 400]), '200 concurrent bad upgrades: 404s and 400s only');
    const ok = await RawPeer.open(port);
    await ok.text('{"action":"register","id":"after-the-flood"}');
    t.match(await ok.json(0), { action: 'registered', id: 'after-the-flood' });
    ok.destroy();
  }),
);
