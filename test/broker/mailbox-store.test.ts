/**
 * One suite for every MailboxStore (lib/broker/mailbox.ts, protocol.md sections 6.3 and 16): the memory
 * store, the journal of `--data-dir` (mailbox-file.ts) and a cluster's mailboxes in a real redis-server
 * (cluster/mailboxes.ts) keep the same promises, shown on each through the interface alone, as aedes'
 * abstract persistence suite does for its stores. What only a durable store promises, that what was
 * queued and not yet written to a holder outlives the store, is checked on the stores that say they are
 * durable; the memory store must say it is not. A cluster's store "outlives" a node: the other node of
 * the cluster finds what the first one queued.
 *
 * The store answers at once or with a promise; every call here awaits it. A cluster's view (`has`, `size`,
 * `queued`, `bytes`, `summaries`) is what its last sweep found, so the suite sweeps (at a time that ages
 * nothing) before it reads the view. Times are a day ahead of the clock: the sweeps a cluster's nodes run
 * on their own, at the real time, then age nothing the suite queued.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_LIMITS, type Limits } from '../../lib/protocol/wire.js';
import { FileMailboxes } from '../../lib/broker/mailbox-file.js';
import { MemoryMailboxes, type Enqueued, type MailboxStore, type QueuedItem } from '../../lib/broker/mailbox.js';
import { startCluster } from '../fixtures/cluster.js';

interface Kind {
  readonly name: string;
  /** A fresh, empty store with `limits`; `reopen` gives a new store over the same place (a restart, or another node). */
  make(t: Test, limits: Limits): Promise<{ store: MailboxStore; reopen: () => MailboxStore }>;
}

const KINDS: readonly Kind[] = [
  {
    name: 'memory',
    make: async (_t, limits) => ({ store: new MemoryMailboxes(limits), reopen: () => new MemoryMailboxes(limits) }),
  },
  {
    name: 'file (--data-dir)',
    make: async (t, limits) => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-mailbox-store-'));
      const opened: MailboxStore[] = [];
      const open = () => {
        const store = new FileMailboxes(limits, dir);
        opened.push(store);
        return store;
      };
      t.teardown(() => {
        for (const store of opened) store.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return { store: open(), reopen: open };
    },
  },
  {
    name: 'redis (cluster)',
    make: async (t, limits) => {
      const { brokers } = await startCluster(t, 2, { limits });
      return { store: brokers[0].mailboxes, reopen: () => brokers[1].mailboxes };
    },
  },
];

const T0 = Date.now() + 86_400_000;

function item(body: string, queuedAt = T0, ref?: string): QueuedItem {
  const payload = { body: JSON.stringify(body), from: 'sender', suffix: '' };
  return { payload, senderId: 'c1', bytes: Buffer.byteLength(payload.body), queuedAt, ...(ref === undefined ? {} : { ref }) };
}

/** Queue `queued` for each of `names`, slot by slot. */
function enqueue(store: MailboxStore, names: string | readonly string[], queued: QueuedItem): Promise<Enqueued> {
  const to = (typeof names === 'string' ? [names] : names).map((name, slot) => ({ name, slot }));
  return Promise.resolve(store.enqueue(to, queued));
}

/** The id a store gave an item it queued in one mailbox. */
async function queue(store: MailboxStore, name: string, queued: QueuedItem): Promise<string> {
  const enqueued = await enqueue(store, name, queued);
  if (!('ids' in enqueued)) throw new Error(`not queued: ${JSON.stringify(enqueued)}`);
  return enqueued.ids[0];
}

/** The store's view, as a sweep that ages nothing leaves it. */
async function view(store: MailboxStore, name: string) {
  await store.sweep(T0);
  return { has: store.has(name), size: store.size, queued: store.queued, bytes: store.bytes, summaries: [...store.summaries()] };
}

const take = async (store: MailboxStore, name: string) => [...(await store.take(name))];

const bodies = (items: readonly QueuedItem[]) => items.map((queued) => JSON.parse(queued.payload.body) as string);

/** `<ms>-<n>` ids compared as the pair of numbers they are. */
function rises(ids: readonly string[]): boolean {
  const pairs = ids.map((id) => id.split('-').map(Number));
  return pairs.every((pair, i) => i === 0 || pair[0] > pairs[i - 1][0] || (pair[0] === pairs[i - 1][0] && pair[1] > pairs[i - 1][1]));
}

for (const kind of KINDS) {
  const limits = (overrides: Partial<Limits> = {}): Limits => ({ ...DEFAULT_LIMITS, ...overrides });

  t.test(`${kind.name}: a mailbox opens empty, keeps what is queued in order with rising ids, and is taken whole [SB-6.3-1] [SB-6.3-4]`, async (t) => {
    const { store } = await kind.make(t, limits());
    t.equal((await view(store, 'inbox')).has, false);
    t.same(await enqueue(store, 'inbox', item('lost')), { refused: 'gone', name: 'inbox' }, 'nothing is queued for a name without a mailbox');
    t.equal(await store.open('inbox', T0), true);
    t.match(await view(store, 'inbox'), { has: true, size: 1, queued: 0, bytes: 0 });
    const ids: string[] = [];
    for (const [i, body] of ['a', 'b', 'c'].entries()) ids.push(await queue(store, 'inbox', item(body, T0 + i)));
    t.ok(ids.every((id) => /^\d+-\d+$/.test(id)), 'each item gets a mailbox id');
    t.ok(rises(ids), 'the ids rise in the order items were queued');
    t.match(await view(store, 'inbox'), { queued: 3, bytes: 9, summaries: [{ name: 'inbox', depth: 3, bytes: 9, oldestAt: T0 }] });
    const taken = await take(store, 'inbox');
    t.same(bodies(taken), ['a', 'b', 'c'], 'oldest first');
    t.same(taken.map((queued) => queued.id), ids, 'with their ids');
    store.settle('inbox', taken, true);
    await store.synced();
    t.match(await view(store, 'inbox'), { queued: 0, bytes: 0 }, 'written, its items go');
    t.same(await take(store, 'inbox'), [], 'taken once');
  });

  t.test(`${kind.name}: ids are unique across mailboxes and keep rising in a mailbox opened again [SB-6.3-4]`, async (t) => {
    const { store } = await kind.make(t, limits());
    await store.open('x', T0);
    await store.open('y', T0);
    const first = await queue(store, 'x', item('1', T0 + 5));
    const second = await queue(store, 'y', item('2', T0)); // an earlier clock: never a lower id
    store.settle('x', await take(store, 'x'), true);
    await store.synced();
    await store.open('x', T0 + 10);
    const third = await queue(store, 'x', item('3', T0 + 10));
    t.ok(rises([first, third]), `${first} < ${third}, in the same mailbox`);
    t.equal(new Set([first, second, third]).size, 3, 'no two alike');
  });

  t.test(`${kind.name}: the limits: count and bytes per mailbox, bytes in all, how many mailboxes; a send is queued in all its mailboxes or none [SB-6.3-2] [SB-4.3-2]`, async (t) => {
    const { store } = await kind.make(t, limits({ maxMailboxSize: 2, maxMailboxBytes: 10, maxMailboxBytesTotal: 14, maxMailboxes: 2 }));
    t.equal(await store.open('a', T0), true);
    t.equal(await store.open('b', T0), true);
    t.equal(await store.open('a', T0), true, 'opening an open mailbox keeps it');
    t.equal(await store.open('c', T0), false, 'no third mailbox');
    t.equal((await view(store, 'c')).has, false);
    t.same(await enqueue(store, 'a', item('0123456789')), { refused: 'full', name: 'a' }, 'more bytes than one mailbox holds (12)');
    await queue(store, 'a', item('x')); // `"x"`: 3 bytes
    await queue(store, 'a', item('y')); // 6 bytes queued in all
    t.same(await enqueue(store, 'a', item('z')), { refused: 'full', name: 'a' }, 'as many items as one mailbox holds');
    t.same(await enqueue(store, ['b', 'a'], item('z')), { refused: 'full', name: 'a' }, 'one full mailbox refuses the send for every name');
    t.match(await view(store, 'b'), { queued: 2, bytes: 6 });
    t.equal([...store.summaries()].find((box) => box.name === 'b')?.depth, 0, 'nothing was queued for the name that had room');
    t.same(await enqueue(store, 'b', item('abcdefg')), { refused: 'total', name: 'b' }, 'past the bytes of all mailboxes (6 + 9 > 14)');
    await queue(store, 'b', item('abcdef')); // 8 bytes: 14 in all
    t.match(await view(store, 'b'), { queued: 3, bytes: 14 }, 'up to the bytes of all mailboxes');
  });

  t.test(`${kind.name}: the bytes in all count each mailbox a send is queued in [SB-6.3-2]`, async (t) => {
    const { store } = await kind.make(t, limits({ maxMailboxBytesTotal: 10 }));
    await store.open('a', T0);
    await store.open('b', T0);
    t.same(await enqueue(store, ['a', 'b'], item('abcd')), { refused: 'total', name: 'b' }, '6 bytes twice pass 10');
    t.match(await view(store, 'a'), { queued: 0, bytes: 0 }, 'and none of it is queued');
    t.match(await enqueue(store, ['a', 'b'], item('ab')), { ids: [String, String] }, '4 bytes twice fit');
    t.match(await view(store, 'a'), { queued: 2, bytes: 8 });
  });

  t.test(`${kind.name}: items leave at their age and tell whom to report to; an empty mailbox leaves at it too [SB-6.3-2]`, async (t) => {
    const { store } = await kind.make(t, limits({ maxMailboxAgeMs: 1000 }));
    await store.open('inbox', T0);
    await queue(store, 'inbox', item('old', T0, 'r1'));
    await queue(store, 'inbox', item('new', T0 + 600, 'r2'));
    t.same(await store.sweep(T0 + 999), [], 'nothing is past its age yet');
    const expired = await store.sweep(T0 + 1000);
    t.same(expired.map(({ name, item: queued }) => [name, queued.ref, queued.senderId]), [['inbox', 'r1', 'c1']], 'the oldest goes, with its sender and ref');
    t.same(bodies(await take(store, 'inbox')), ['new'], 'the rest stays');
    await store.open('empty', T0);
    await store.sweep(T0 + 999);
    t.equal(store.has('empty'), true, 'an empty mailbox stays until its age');
    await store.sweep(T0 + 1000);
    t.equal(store.has('empty'), false, 'and then goes');
  });

  t.test(`${kind.name}: a request's slots wait with their ack and slot, and leave at its deadline without a report [SB-6.3-3]`, async (t) => {
    const { store } = await kind.make(t, limits({ maxMailboxAgeMs: 10_000 }));
    await store.open('x', T0);
    await store.open('y', T0);
    const request = { ...item('ask', T0, 'r1'), request: { ack: 'q1', deadline: T0 + 500, window: 4 } };
    t.match(await enqueue(store, ['x', 'y'], request), { ids: [String, String] });
    const [slot] = await take(store, 'x');
    t.match(slot, { senderId: 'c1', request: { ack: 'q1', deadline: T0 + 500, window: 4 }, slot: 0 }, 'its request is found again by sender and ack');
    t.same(await store.sweep(T0 + 500), [], 'at its deadline the other slot goes, unreported: its request ends then');
    t.same(await take(store, 'y'), []);
  });

  t.test(`${kind.name}: what a holder took but never got goes back in front for the next one, if the store is durable [SB-6.3-4]`, async (t) => {
    const { store } = await kind.make(t, limits());
    await store.open('inbox', T0);
    await queue(store, 'inbox', item('a'));
    await queue(store, 'inbox', item('b'));
    const taken = await take(store, 'inbox');
    await store.open('inbox', T0 + 1); // the holder left before its frames were written: the name is offline again
    await queue(store, 'inbox', item('c'));
    store.settle('inbox', taken, false);
    await store.synced();
    const again = await take(store, 'inbox');
    if (store.durable) {
      t.same(bodies(again), ['a', 'b', 'c'], 'in front, in their order, with the same ids');
      t.same(again.slice(0, 2).map((queued) => queued.id), taken.map((queued) => queued.id));
    } else {
      t.same(bodies(again), ['c'], 'the memory store delivers at most once: what was taken is gone');
    }
  });

  t.test(`${kind.name}: what was queued and not written to a holder outlives the store exactly when it says it is durable [SB-6.3-1] [SB-6.3-4]`, async (t) => {
    const { store, reopen } = await kind.make(t, limits());
    await store.open('kept', T0);
    const ids = [await queue(store, 'kept', item('a')), await queue(store, 'kept', item('b'))];
    await store.open('done', T0);
    await queue(store, 'done', item('written'));
    store.settle('done', await take(store, 'done'), true);
    await store.open('taken', T0);
    await queue(store, 'taken', item('on its way'));
    await take(store, 'taken'); // taken, never settled: the broker died before the frames left
    await store.synced();
    const after = reopen();
    if (!store.durable) {
      t.equal(after.size, 0, 'the memory store keeps nothing');
      return;
    }
    const kept = await take(after, 'kept');
    t.same(bodies(kept), ['a', 'b'], 'a mailbox comes back with its items, in order');
    t.same(kept.map((queued) => queued.id), ids, 'with their ids');
    t.same(bodies(await take(after, 'taken')), ['on its way'], 'what was taken but not written comes back: at least once');
    t.same(await take(after, 'done'), [], 'what was written does not');
    await after.open('kept', T0);
    const next = await queue(after, 'kept', item('c', T0));
    t.ok(rises([...ids, next]), 'and the ids go on rising after it');
  });
}
