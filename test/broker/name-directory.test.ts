/**
 * One suite for every NameDirectory (lib/broker/name-directory.ts, protocol.md sections 4.1, 6.4 and 16):
 * the single broker's, over its memory, and a cluster's, in a real redis-server (cluster/claims.ts), keep
 * the same promises, shown on each through the interface alone, as aedes' abstract persistence suite does
 * for its stores. A cluster's directory is seen from two broker nodes: a claimant on one and a claimant
 * on the other contend for the same names; the single broker is one node, so both "nodes" are it. A
 * claimant claims and releases through the node it is connected to, as a connection does.
 */
import t, { type Test } from 'tap';
import type { Dialect } from '../../lib/protocol/dialects.js';
import { MemoryNameDirectory, type Claim, type Claimant, type NameDirectory } from '../../lib/broker/name-directory.js';
import { MemoryNameRegistry } from '../../lib/broker/name-registry.js';
import { startCluster } from '../fixtures/cluster.js';

interface Kind {
  readonly name: string;
  /** The directory as seen from node 0 and from node 1. */
  make(t: Test): Promise<readonly [NameDirectory, NameDirectory]>;
}

const KINDS: readonly Kind[] = [
  {
    name: 'memory',
    make: async () => {
      const directory = new MemoryNameDirectory<Claimant>(new MemoryNameRegistry<Claimant>());
      return [directory, directory];
    },
  },
  {
    name: 'redis (cluster)',
    make: async (t) => {
      const { brokers } = await startCluster(t, 2);
      return [brokers[0].directory, brokers[1].directory];
    },
  },
];

let claimants = 0;

/** A connection as the directory sees it; `identity` when it proved one with a token. */
function claimant(identity?: string, dialect: Dialect = 'extended'): Claimant {
  const id = `conn${++claimants}`;
  return { id, dialect, authenticated: identity !== undefined, identity: identity === undefined ? undefined : { id: identity }, names: new Set() };
}

const EXCLUSIVE = { takeover: false, shared: false, durable: false };
const SHARED = { takeover: false, shared: true, durable: false };
const TAKEOVER = { takeover: true, shared: false, durable: false };
const OK: Claim = { kind: 'ok' };

for (const kind of KINDS) {
  t.test(`${kind.name}: a free name goes to its first claimant; any other, on any node, is refused while it holds it [SB-3-2] [SB-4.1-1] [SB-4.1-2]`, async (t) => {
    const [here, there] = await kind.make(t);
    const [a, b, c] = [claimant(), claimant(), claimant()];
    t.same(await here.claim(a, 'svc', EXCLUSIVE), OK);
    t.same(await there.claim(b, 'svc', EXCLUSIVE), { kind: 'taken' }, 'from the other node');
    t.same(await here.claim(c, 'svc', EXCLUSIVE), { kind: 'taken' }, 'from the same node');
    t.same(await here.claim(a, 'svc', EXCLUSIVE), { kind: 'held' }, 'the holder claims it again');
    t.same(await there.claim(b, 'other', EXCLUSIVE), OK, 'another name is free');
  });

  t.test(`${kind.name}: a released name is free for the next claimant; release says when nobody holds it [SB-4.2-1]`, async (t) => {
    const [here, there] = await kind.make(t);
    const [a, b, c, d] = [claimant(), claimant(), claimant(), claimant()];
    t.same(await here.claim(a, 'svc', EXCLUSIVE), OK);
    t.equal(await here.release(a, 'svc', false), true, 'nobody holds it now');
    t.same(await there.claim(b, 'svc', EXCLUSIVE), OK, 'the next claimant gets it');
    t.equal(await here.release(c, 'svc', false), false, 'a release by one that never held it frees nothing');
    t.same(await here.claim(d, 'svc', EXCLUSIVE), { kind: 'taken' }, 'the holder keeps it');
    t.equal(await there.release(b, 'svc', false), true);
    t.equal(await there.release(b, 'svc', false), true, 'released twice: still nobody');
  });

  t.test(`${kind.name}: takeover moves a name only to a claimant that proved the holder's identity [SB-4.1-6]`, async (t) => {
    const [here, there] = await kind.make(t);
    const holder = claimant('svc-identity');
    t.same(await here.claim(holder, 'svc', EXCLUSIVE), OK);
    t.same(await there.claim(claimant(), 'svc', TAKEOVER), { kind: 'taken' }, 'an anonymous claimant may not');
    t.same(await there.claim(claimant('someone-else'), 'svc', TAKEOVER), { kind: 'taken' }, 'another identity may not');
    t.same(await there.claim(claimant('svc-identity'), 'svc', EXCLUSIVE), { kind: 'taken' }, 'the same identity without takeover is refused');
    const heir = claimant('svc-identity');
    t.match(await there.claim(heir, 'svc', TAKEOVER), { kind: 'over', conn: holder.id }, 'the same identity takes it over, and is told from whom');
    t.same(await here.claim(claimant(), 'svc', EXCLUSIVE), { kind: 'taken' }, 'the heir holds it');
    t.equal(await here.release(holder, 'svc', false), false, "the old holder's late release leaves the heir its name");
    t.same(await here.claim(claimant(), 'svc', EXCLUSIVE), { kind: 'taken' }, 'still held by the heir');
    t.same(await there.claim(heir, 'svc', EXCLUSIVE), { kind: 'held' });
  });

  t.test(`${kind.name}: takeover is refused between anonymous claimants [SB-4.1-6]`, async (t) => {
    const [here, there] = await kind.make(t);
    t.same(await here.claim(claimant(), 'svc', EXCLUSIVE), OK);
    t.same(await there.claim(claimant(), 'svc', TAKEOVER), { kind: 'taken' });
  });

  t.test(`${kind.name}: a pool takes members from every node, never mixes with an exclusive holder, and is free when its last member leaves [SB-6.4-1]`, async (t) => {
    const [here, there] = await kind.make(t);
    const [a, b] = [claimant(), claimant()];
    t.same(await here.claim(a, 'pool', SHARED), OK);
    t.same(await there.claim(b, 'pool', SHARED), OK, 'a member on the other node');
    t.same(await here.claim(a, 'pool', SHARED), { kind: 'held' }, 'a member joins once');
    t.same(await there.claim(claimant(), 'pool', EXCLUSIVE), { kind: 'conflict' }, 'exclusive on a pool');
    t.same(await there.claim(claimant('x'), 'pool', TAKEOVER), { kind: 'conflict' }, 'even with takeover');
    t.equal(await here.release(a, 'pool', false), false, 'one member left');
    t.same(await here.claim(claimant(), 'pool', EXCLUSIVE), { kind: 'conflict' }, 'one member is still a pool');
    t.equal(await there.release(b, 'pool', false), true, 'the last member left');
    const single = claimant();
    t.same(await here.claim(single, 'pool', EXCLUSIVE), OK, 'now free for an exclusive holder');
    t.same(await there.claim(claimant(), 'pool', SHARED), { kind: 'conflict' }, 'shared on an exclusive name');
  });

  t.test(`${kind.name}: of many claims of one free name at once, from both nodes, exactly one wins [SB-3-2]`, async (t) => {
    const directories = await kind.make(t);
    for (let round = 0; round < 5; round++) {
      const name = `race${round}`;
      const contenders = Array.from({ length: 10 }, () => claimant());
      const claims = await Promise.all(contenders.map((c, i) => directories[i % 2].claim(c, name, EXCLUSIVE)));
      t.same(
        claims.map((claim) => claim.kind).sort(),
        ['ok', ...Array<string>(9).fill('taken')],
        `round ${round}: one ok, nine taken`,
      );
      const won = claims.findIndex((claim) => claim.kind === 'ok');
      t.equal(await directories[won % 2].release(contenders[won], name, false), true, "the winner's release, on its node, frees it");
    }
  });
}
