/**
 * Malformed, oversize and hostile WebSocket frames written byte by byte over node:net (robustness.md,
 * "Handshake and transport"; protocol.md sections 2, 8 and 9). Every case gets the close code RFC 6455
 * and protocol.md section 8 call for, the TCP connection ends, the broker holds nothing for it, and a
 * victim doing request/answer on the same broker is unaffected.
 */
import t, { type Test } from 'tap';
import type { BrokerOptions } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { closePayload, encodeFrame, OPCODE, RawPeer, type FrameSpec } from '../fixtures/raw.js';
import { startVictim } from '../fixtures/victim.js';

type Attack = [label: string, write: (peer: RawPeer) => Promise<unknown>];

/**
 * Against one broker: each attack on its own raw connection must end with close code `code` and, once
 * the peer answers the close as a client should, a closed TCP connection; the victim must still do
 * request/answer after each.
 */
async function eachClosesWith(t: Test, code: number, attacks: Attack[], options: BrokerOptions = {}): Promise<void> {
  const { broker, url, port } = await startBroker(t, options);
  const victim = await startVictim(url);
  for (const [label, write] of attacks) {
    const peer = await RawPeer.open(port);
    await write(peer);
    const close = await peer.answerClose().catch((error: Error) => ({ code: -1, reason: error.message }));
    t.equal(close.code, code, `${label}: close ${code}`, { reason: close.reason });
    await peer.ended().then(
      () => t.pass(`${label}: the broker ended the TCP connection`),
      (error: Error) => t.fail(`${label}: ${error.message}`),
    );
    peer.destroy();
    await victim.check(t, `after: ${label}`);
  }
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
}

const frame = (spec: FrameSpec) => (peer: RawPeer) => peer.frame(spec);
const register = (name: string) => `{"action":"register","id":"${name}"}`;

t.test('protocol errors close with 1002: unmasked frames, reserved bits, reserved opcodes, bad fragmentation', (t) =>
  eachClosesWith(t, 1002, [
    ['an unmasked text frame', frame({ opcode: OPCODE.text, payload: register('u'), mask: false })],
    ['an unmasked close frame', frame({ opcode: OPCODE.close, payload: closePayload(1000), mask: false })],
    ...[1, 2, 4, 7].map((rsv): Attack => [`reserved bits ${rsv.toString(2).padStart(3, '0')}`, frame({ opcode: OPCODE.text, payload: register('r'), rsv })]),
    ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): Attack => [`reserved opcode 0x${opcode.toString(16)}`, frame({ opcode, payload: 'x' })]),
    ['a continuation with no message started', frame({ opcode: OPCODE.continuation, payload: register('c') })],
    [
      'a new text frame inside a fragmented message',
      async (peer) => {
        await peer.frame({ opcode: OPCODE.text, payload: '{"action":', fin: false });
        await peer.frame({ opcode: OPCODE.text, payload: '"register"}' });
      },
    ],
    ['a fragmented ping', frame({ opcode: OPCODE.ping, payload: 'p', fin: false })],
    ['a ping with 126 bytes of payload', frame({ opcode: OPCODE.ping, payload: Buffer.alloc(126) })],
    ['a close frame with a 1-byte payload', frame({ opcode: OPCODE.close, payload: Buffer.from([3]) })],
  ]),
);

t.test('close frames with codes RFC 6455 forbids are answered with 1002', (t) =>
  eachClosesWith(
    t,
    1002,
    [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535].map((code): Attack => [
      `close code ${code}`,
      frame({ opcode: OPCODE.close, payload: closePayload(code) }),
    ]),
  ),
);

t.test('close frames with valid codes are echoed, and the peer\'s names are released [SB-4.2-4]', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const victim = await startVictim(url);
  for (const code of [1000, 1001, 1011, 3000, 4999]) {
    const peer = await RawPeer.open(port);
    await peer.text(register(`closer-${code}`));
    t.match(await peer.json(0), { action: 'registered' });
    await peer.frame({ opcode: OPCODE.close, payload: closePayload(code, 'bye') });
    t.equal((await peer.closeFrame()).code, code, `close ${code} is echoed`);
    await peer.ended();
    peer.destroy();
  }
  await victim.check(t, 'after the closes');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD, 'every closer\'s name was released');
});

t.test('invalid UTF-8 in text frames and close reasons closes with 1007', (t) =>
  eachClosesWith(t, 1007, [
    ['0xff in a text frame', frame({ opcode: OPCODE.text, payload: Buffer.from([0x7b, 0xff, 0x7d]) })],
    ['an overlong encoding of "/"', frame({ opcode: OPCODE.text, payload: Buffer.from([0x22, 0xc0, 0xaf, 0x22]) })],
    ['a UTF-8-encoded lone surrogate (CESU-8)', frame({ opcode: OPCODE.text, payload: Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]) })],
    ['a code point above U+10FFFF', frame({ opcode: OPCODE.text, payload: Buffer.from([0xf4, 0x90, 0x80, 0x80]) })],
    ['a truncated sequence at the end of the message', frame({ opcode: OPCODE.text, payload: Buffer.from([0x22, 0xe2, 0x82]) })],
    [
      'invalid UTF-8 in the second fragment',
      async (peer) => {
        await peer.frame({ opcode: OPCODE.text, payload: '{"action":"regi', fin: false });
        await peer.frame({ opcode: OPCODE.continuation, payload: Buffer.from([0xfe, 0x22, 0x7d]) });
      },
    ],
    ['invalid UTF-8 in a close reason', frame({ opcode: OPCODE.close, payload: closePayload(1000, Buffer.from([0xff])) })],
  ]),
);

t.test('a character split across fragments is valid UTF-8 and is accepted', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const b = await RawPeer.open(port);
  await b.text(register('b'));
  await b.json(0);
  const a = await RawPeer.open(port);
  await a.text(register('a'));
  await a.json(0);
  const text = Buffer.from('{"action":"send","dest":"b","message":"é✓"}');
  const cut = text.indexOf(Buffer.from('✓')) + 1; // inside the three bytes of ✓
  await a.frame({ opcode: OPCODE.text, payload: text.subarray(0, cut), fin: false });
  await a.frame({ opcode: OPCODE.continuation, payload: text.subarray(cut) });
  t.same(await b.json(1), { action: 'message', message: 'é✓', from: 'a' });
  a.destroy();
  b.destroy();
  const victim = await startVictim(url);
  await victim.check(t, 'afterwards');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

const LIMIT = 1000; // maxMessageBytes for the size cases; the transport's hard cap is twice this [SB-9-1]

t.test('messages over twice maxMessageBytes close with 1009, single or fragmented [SB-9-1]', (t) =>
  eachClosesWith(
    t,
    1009,
    [
      ['one frame of 2 * limit + 1 bytes', frame({ opcode: OPCODE.text, payload: Buffer.alloc(2 * LIMIT + 1, 0x20) })],
      [
        'a header announcing 1 TiB (no payload sent)',
        (peer) => {
          const head = Buffer.from([0x81, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
          return peer.write(head);
        },
      ],
      ['a header announcing 2^63 - 1 bytes', (peer) => peer.write(Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]))],
      [
        'three fragments of 0.9 * limit',
        async (peer) => {
          const part = Buffer.alloc(0.9 * LIMIT, 0x20);
          await peer.frame({ opcode: OPCODE.text, payload: part, fin: false });
          await peer.frame({ opcode: OPCODE.continuation, payload: part, fin: false });
          await peer.frame({ opcode: OPCODE.continuation, payload: part });
        },
      ],
      [
        '2,001 one-byte fragments',
        (peer) => {
          const parts = [encodeFrame({ opcode: OPCODE.text, payload: ' ', fin: false })];
          for (let i = 0; i < 2 * LIMIT; i++) parts.push(encodeFrame({ opcode: OPCODE.continuation, payload: ' ', fin: false }));
          return peer.write(Buffer.concat(parts));
        },
      ],
    ],
    { limits: { maxMessageBytes: LIMIT } },
  ),
);

t.test('a fragmented message between maxMessageBytes and twice it gets too_large and the connection stays [SB-9-1]', async (t) => {
  const { broker, url, port } = await startBroker(t, { limits: { maxMessageBytes: LIMIT } });
  const peer = await RawPeer.open(port);
  const text = `{"action":"register","id":"x","pad":"${' '.repeat(1.5 * LIMIT)}"}`;
  const cut = Math.floor(text.length / 3);
  await peer.frame({ opcode: OPCODE.text, payload: text.slice(0, cut), fin: false });
  await peer.frame({ opcode: OPCODE.continuation, payload: text.slice(cut, 2 * cut), fin: false });
  await peer.frame({ opcode: OPCODE.continuation, payload: text.slice(2 * cut) });
  t.match(await peer.json(0), { action: 'error', code: 'too_large' });
  await peer.text(register('still-open'));
  t.match(await peer.json(1), { action: 'registered', id: 'still-open' });
  peer.destroy();
  const victim = await startVictim(url);
  await victim.check(t, 'afterwards');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a flood of tiny fragments closes with 1008 once past maxFragments (protocol.md section 9)', (t) =>
  eachClosesWith(t, 1008, [
    [
      '20,000 one-byte fragments of one message (default maxFragments 4096)',
      (peer) => {
        const parts = [encodeFrame({ opcode: OPCODE.text, payload: ' ', fin: false })];
        for (let i = 0; i < 20_000; i++) parts.push(encodeFrame({ opcode: OPCODE.continuation, payload: ' ', fin: false }));
        return peer.write(Buffer.concat(parts));
      },
    ],
    [
      '5,000 empty fragments',
      (peer) => {
        const parts = [encodeFrame({ opcode: OPCODE.text, fin: false })];
        for (let i = 0; i < 5000; i++) parts.push(encodeFrame({ opcode: OPCODE.continuation, fin: false }));
        return peer.write(Buffer.concat(parts));
      },
    ],
  ]),
);

t.test('maxFragments is exact: a message in maxFragments fragments passes, one more closes with 1008', async (t) => {
  const { broker, url, port } = await startBroker(t, { limits: { maxFragments: 8 } });
  const inPieces = (text: string, pieces: number) => {
    const size = Math.ceil(text.length / pieces);
    return Buffer.concat(
      Array.from({ length: pieces }, (_, i) =>
        encodeFrame({ opcode: i === 0 ? OPCODE.text : OPCODE.continuation, payload: text.slice(i * size, (i + 1) * size), fin: i === pieces - 1 }),
      ),
    );
  };
  const ok = await RawPeer.open(port);
  await ok.write(inPieces(register('eight-pieces'), 8));
  t.match(await ok.json(0), { action: 'registered', id: 'eight-pieces' });
  const over = await RawPeer.open(port);
  await over.write(inPieces(register('nine-pieces'), 9));
  t.equal((await over.answerClose()).code, 1008);
  ok.destroy();
  over.destroy();
  const victim = await startVictim(url);
  await victim.check(t, 'afterwards');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a message in 1,000 fragments under the caps is reassembled and handled', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const peer = await RawPeer.open(port);
  const text = Buffer.from(register('in-pieces'));
  const parts: Buffer[] = [];
  for (let i = 0; i < 1000; i++) {
    const piece = i < text.length ? text.subarray(i, i + 1) : Buffer.alloc(0);
    const last = i === 999;
    const payload = last ? text.subarray(Math.min(i, text.length)) : piece;
    parts.push(encodeFrame({ opcode: i === 0 ? OPCODE.text : OPCODE.continuation, payload, fin: last }));
  }
  await peer.write(Buffer.concat(parts));
  t.match(await peer.json(0), { action: 'registered', id: 'in-pieces' });
  peer.destroy();
  const victim = await startVictim(url);
  await victim.check(t, 'afterwards');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a frame written one byte per TCP segment is handled like any other', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const peer = await RawPeer.open(port);
  peer.socket.setNoDelay(true);
  const bytes = encodeFrame({ opcode: OPCODE.text, payload: register('slowly') });
  for (const byte of bytes) await peer.write(Buffer.from([byte]));
  t.match(await peer.json(0), { action: 'registered', id: 'slowly' });
  peer.destroy();
  const victim = await startVictim(url);
  await victim.check(t, 'afterwards');
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('binary messages close with 1003, whole or fragmented, registered or not [SB-2-4]', (t) =>
  eachClosesWith(t, 1003, [
    ['a binary frame', frame({ opcode: OPCODE.binary, payload: register('bin') })],
    ['an empty binary frame', frame({ opcode: OPCODE.binary })],
    [
      'a binary message in two fragments',
      async (peer) => {
        await peer.frame({ opcode: OPCODE.binary, payload: '{"action":', fin: false });
        await peer.frame({ opcode: OPCODE.continuation, payload: '"register","id":"bin"}' });
      },
    ],
    [
      'a binary frame after registering',
      async (peer) => {
        await peer.text(register('holder'));
        await peer.json(0);
        await peer.frame({ opcode: OPCODE.binary, payload: Buffer.from([0, 1, 2]) });
      },
    ],
  ]),
);
