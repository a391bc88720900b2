/**
 * The auth file (protocol.md section 12): what loads and what refuses to, how a token's hash is made,
 * and what each permission key allows, judged over real sockets by a broker that loaded the file.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAuthConfig, policyFromConfig, type Identity } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

// Known answers, computed outside this code (`printf %s TOKEN | sha256sum`): the hash is of the UTF-8 bytes.
const ABC = { token: 'abc', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' };
const READER = { token: 'lecteur-clé-✓-7Qm', sha256: '22b973f8f3c2e314206edfc93ce0ff3b0f36552d7328488835855bb89a1bc12e' };
const WRITER = { token: 'writer-token-Zp4r9K', sha256: '8f39ba2a54c9533516e60506aca9e43570899e934cda655d2a02d8c202a368b6' };

const config = {
  identities: [
    { id: 'reader', tokenSha256: READER.sha256, permissions: { register: ['reader-*'], subscribe: ['news.*'], publish: [] } },
    { id: 'writer', tokenSha256: WRITER.sha256, permissions: { register: ['writer-*', 'desk'], publish: ['news.*'] } },
    { id: 'ops', tokenSha256: ABC.sha256, permissions: { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] } },
  ],
};

async function authed(url: string, token: string, name?: string): Promise<Peer> {
  const peer = await Peer.connect(url);
  peer.send({ action: 'auth', token });
  await peer.next((f) => f.action === 'authenticated');
  if (name !== undefined) {
    peer.send({ action: 'register', id: name });
    await peer.next((f) => f.action === 'registered' && f.id === name);
  }
  return peer;
}

t.test('a file that is missing, empty, not JSON, off the schema, admits no one or repeats an id or a hash does not load [SB-12-1]', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: unknown) => {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    return join(dir, name);
  };
  const [reader, writer] = config.identities;
  t.throws(() => loadAuthConfig(join(dir, 'missing.json')), /cannot read auth configuration .*missing\.json/);
  t.throws(() => loadAuthConfig(file('empty.json', '  \n')), /empty\.json is empty/);
  t.throws(() => loadAuthConfig(file('broken.json', '{"identities": [')), /broken\.json is not valid JSON/);
  t.throws(() => loadAuthConfig(file('shape.json', '{"identities": [{"id": "x", "token": "plain"}]}')), /shape\.json is malformed/);
  const upper = { identities: [{ ...reader, tokenSha256: reader.tokenSha256.toUpperCase() }] };
  t.throws(() => loadAuthConfig(file('upper.json', upper)), /malformed: \/identities\/0\/tokenSha256/, 'hashes are lowercase hex');
  const unknownKey = { identities: [{ ...reader, permissions: { ...reader.permissions, answer: ['*'] } }] };
  t.throws(() => loadAuthConfig(file('key.json', unknownKey)), /malformed: \/identities\/0\/permissions/, 'only the five keys');
  t.throws(() => loadAuthConfig(file('none.json', { identities: [] })), /admits no one/);
  const sameId = { identities: [reader, { ...writer, id: 'reader' }] };
  t.throws(() => loadAuthConfig(file('ids.json', sameId)), /identity "reader" appears twice/);
  const sameHash = { identities: [reader, { ...writer, tokenSha256: READER.sha256 }] };
  t.throws(() => loadAuthConfig(file('hashes.json', sameHash)), /shares a token/);
  const guestsOnly = loadAuthConfig(file('guests.json', { identities: [], anonymous: { id: 'guest', permissions: {} } }));
  t.equal(guestsOnly.anonymous?.id, 'guest', 'an anonymous identity alone admits someone');
  const good = loadAuthConfig(file('good.json', config));
  t.equal((good.authenticate?.(WRITER.token, { remoteAddress: '' }) as Identity | undefined)?.id, 'writer');
  t.equal(good.authenticate?.('wrong', { remoteAddress: '' }), undefined);
});

t.test('a token is valid when the SHA-256 of its UTF-8 bytes is an identity\'s tokenSha256 [SB-12-2]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policyFromConfig(config) });
  for (const [token, identity] of [[ABC.token, 'ops'], [READER.token, 'reader']]) {
    const p = await Peer.connect(url);
    p.send({ action: 'auth', token, ref: 'a1' });
    t.same(await p.next(), { action: 'authenticated', identity, ref: 'a1' }, `${JSON.stringify(token)} is ${identity}`);
    await p.close();
  }
  for (const token of ['ABC', 'lecteur-cle-✓-7Qm', 'lecteur-cle\u0301-✓-7Qm', ABC.sha256]) {
    const p = await Peer.connect(url);
    p.send({ action: 'auth', token, ref: 'a2' });
    t.match(await p.next(), { action: 'error', code: 'unauthorized', ref: 'a2' }, `${JSON.stringify(token)} is not valid`);
    t.equal((await p.closed()).code, 1008);
  }
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a pattern matches the whole name, * any run of characters [SB-12-3] [SB-4.5-3]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policyFromConfig(config) });
  const reader = await authed(url, READER.token);
  const names = [['reader-1', true], ['reader-', true], ['reader-a.b.c', true], ['reader', false], ['areader-1', false], ['Reader-1', false]] as const;
  for (const [name, allowed] of names) {
    reader.send({ action: 'register', id: name });
    const reply = await reader.next();
    if (allowed) t.same(reply, { action: 'registered', id: name }, `reader-* allows ${name}`);
    else t.match(reply, { action: 'error', code: 'forbidden', id: name }, `reader-* does not allow ${name}`);
  }
  const writer = await authed(url, WRITER.token);
  writer.send({ action: 'register', id: 'desk' });
  t.same(await writer.next(), { action: 'registered', id: 'desk' }, 'a pattern without * is the name itself');
  writer.send({ action: 'register', id: 'desk2' });
  t.match(await writer.next(), { code: 'forbidden', id: 'desk2' });
  await reader.close();
  await writer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('subscribe and publish are allowed by their own keys; an absent or empty key allows nothing [SB-12-3] [SB-4.5-3]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policyFromConfig(config) });
  const reader = await authed(url, READER.token, 'reader-1');
  const writer = await authed(url, WRITER.token, 'writer-1');
  reader.send({ action: 'subscribe', topic: 'news.uk', ref: 's1' });
  t.same(await reader.next(), { action: 'subscribed', topic: 'news.uk', ref: 's1' });
  reader.send({ action: 'subscribe', topic: 'news', ref: 's2' });
  t.match(await reader.next(), { action: 'error', code: 'forbidden', id: 'news', ref: 's2' }, 'news.* does not allow news');
  writer.send({ action: 'subscribe', topic: 'news.uk', ref: 's3' });
  t.match(await writer.next(), { action: 'error', code: 'forbidden', id: 'news.uk', ref: 's3' }, 'no subscribe key: no subscription');
  reader.send({ action: 'publish', topic: 'news.uk', message: 'x', ack: 'q1', ref: 'p1' });
  t.match(await reader.next(), { action: 'error', code: 'forbidden', id: 'news.uk', ack: 'q1', ref: 'p1' }, 'an empty publish list: no publish');
  writer.send({ action: 'publish', topic: ['news.uk.london', 'sport'], message: 'both?', ref: 'p2' });
  t.match(await writer.next(), { action: 'error', code: 'forbidden', id: 'sport', ref: 'p2' }, 'the first topic not allowed is named');
  t.same(await reader.quiet(50), [], 'a publish with one forbidden topic reaches no one');
  writer.send({ action: 'publish', topic: 'news.uk.london', message: 'headline', ref: 'p3' });
  t.same(await writer.next(), { action: 'published', receivers: 1, ref: 'p3' });
  t.match(await reader.next(), { action: 'message', from: 'writer-1', message: 'headline', topic: 'news.uk.london', context: 'news.uk' });
  writer.send({ action: 'send', dest: 'reader-1', message: 'hi', ref: 'f1' });
  t.match(await writer.next(), { action: 'error', code: 'forbidden', id: 'reader-1', ref: 'f1' }, 'no send key: no send');
  writer.send({ action: 'broadcast', message: 'all', ref: 'f2' });
  t.match(await writer.next(), { action: 'error', code: 'forbidden', id: '*', ref: 'f2' }, 'nor a broadcast');
  t.same(await reader.quiet(50), [], 'nothing forbidden was delivered');
  await reader.close();
  await writer.close();
  t.same(await drained(broker), NOTHING_HELD);
});
