/**
 * One suite for every MailboxStore (lib/broker/mailbox.ts, protocol.md section 6.3): the memory store and
 * the journal of `--data-dir` (mailbox-file.ts) keep the same promises, shown on each through the
 * interface alone, as aedes' abstract persistence suite does for its stores. What only a durable store
 * promises, that what was queued and not yet written to a holder outlives the store, is checked on the
 * stores that say they are durable; the memory store must say it is not. (The cluster's mailboxes are in
 * Redis behind scripts that claim a name and take its mailbox in one step: test/cluster/mailboxes.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_LIMITS, type Limits } from '../../lib/protocol/wire.js';
import { FileMailboxes } from '../../lib/broker/mailbox-file.js';
import { MemoryMailboxes, type MailboxStore, type QueuedItem } from '../../lib/broker/mailbox.js';

type Store = MailboxStore<never>;

interface Kind {
  readonly name: string;
  /** A fresh, empty store with `limits`; `reopen` gives a new store over the same place (a restart). */
  make(t: Test, limits: Limits): { store: Store; reopen: () => Store };
}

const KINDS: readonly Kind[] = [
  {
    name: 'memory',
    make: (_t, limits) => ({ store: new MemoryMailboxes<never>(limits), reopen: () => new MemoryMailboxes<never>(limits) }),
  },
  {
    name: 'file (--data-dir)',
    make: (t, limits) => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-mailbox-store-'));
      const opened: Store[] = [];
      const open = () => {
        const store = new FileMailboxes<never>(limits, dir);
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
];

const T0 = 1_700_000_000_000;

function item(body: string, queuedAt = T0, ref?: string): QueuedItem<never> {
  const payload = { body: JSON.stringify(body), from: 'sender', suffix: '' };
  return { payload, senderId: 'c1', bytes: Buffer.byteLength(payload.body), queuedAt, ...(ref === undefined ? {} : { ref }) };
}

const bodies = (items: readonly QueuedItem<never>[]) => items.map((queued) => JSON.parse(queued.payload.body) as string);

/** `<ms>-<n>` ids compared as the pair of numbers they are. */
function rises(ids: readonly string[]): boolean {
  const pairs = ids.map((id) => id.split('-').map(Number));
  return pairs.every((pair, i) => i === 0 || pair[0] > pairs[i - 1][0] || (pair[0] === pairs[i - 1][0] && pair[1] > pairs[i - 1][1]));
}

for (const kind of KINDS) {
  const limits = (overrides: Partial<Limits> = {}): Limits => ({ ...DEFAULT_LIMITS, ...overrides });

  t.test(`${kind.name}: a mailbox opens empty, keeps what is queued in order with rising ids, and is taken whole [SB-6.3-1] [SB-6.3-4]`, async (t) => {
    const { store } = kind.make(t, limits());
    t.equal(store.has('inbox'), false);
    t.equal(store.enqueue('inbox', item('lost')), undefined, 'nothing is queued for a name without a mailbox');
    t.equal(store.open('inbox', T0), true);
    t.match({ has: store.has('inbox'), size: store.size, queued: store.queued, bytes: store.bytes }, { has: true, size: 1, queued: 0, bytes: 0 });
    const ids = ['a', 'b', 'c'].map((body, i) => store.enqueue('inbox', item(body, T0 + i)) as string);
    t.ok(ids.every((id) => /^\d+-\d+$/.test(id)), 'each item gets a mailbox id');
    t.ok(rises(ids), 'the ids rise in the order items were queued');
    t.match([...store.summaries()], [{ name: 'inbox', depth: 3, bytes: 9, oldestAt: T0 }]);
    t.match({ queued: store.queued, bytes: store.bytes }, { queued: 3, bytes: 9 });
    const taken = store.take('inbox');
    t.same(bodies(taken), ['a', 'b', 'c'], 'oldest first');
    t.same(taken.map((queued) => queued.id), ids, 'with their ids');
    t.match({ has: store.has('inbox'), size: store.size, queued: store.queued, bytes: store.bytes }, { has: false, size: 0, queued: 0, bytes: 0 }, 'a holder closes it');
    t.same(store.take('inbox'), [], 'taken once');
    store.settle('inbox', taken, true);
  });

  t.test(`${kind.name}: ids keep rising across mailboxes and a mailbox opened again [SB-6.3-4]`, async (t) => {
    const { store } = kind.make(t, limits());
    store.open('x', T0);
    store.open('y', T0);
    const first = store.enqueue('x', item('1', T0 + 5)) as string;
    const second = store.enqueue('y', item('2', T0)) as string; // an earlier clock: never a lower id
    store.settle('x', store.take('x'), true);
    store.open('x', T0 + 10);
    const third = store.enqueue('x', item('3', T0 + 10)) as string;
    t.ok(rises([first, second, third]), `${first} < ${second} < ${third}`);
  });

  t.test(`${kind.name}: the limits: count and bytes per mailbox, bytes in all, how many mailboxes [SB-6.3-2]`, async (t) => {
    const { store } = kind.make(t, limits({ maxMailboxSize: 2, maxMailboxBytes: 10, maxMailboxBytesTotal: 14, maxMailboxes: 2 }));
    t.equal(store.canQueue('nobody', 1), 'full', 'no mailbox: nothing fits');
    t.equal(store.open('a', T0), true);
    t.equal(store.open('b', T0), true);
    t.equal(store.open('a', T0), true, 'opening an open mailbox keeps it');
    t.equal(store.open('c', T0), false, 'no third mailbox');
    t.equal(store.has('c'), false);
    t.equal(store.canQueue('a', 11), 'full', 'more bytes than one mailbox holds');
    store.enqueue('a', item('x')); // `"x"`: 3 bytes
    store.enqueue('a', item('y')); // 6 bytes queued in all
    t.equal(store.canQueue('a', 1), 'full', 'as many items as one mailbox holds');
    t.equal(store.canQueue('b', 8), 'ok', 'up to the bytes of all mailboxes (6 + 8 = 14)');
    t.equal(store.canQueue('b', 9), 'total', 'and no further');
    t.equal(store.canQueue('b', 4, 5), 'total', 'counting what the same send queues elsewhere (6 + 5 + 4)');
  });

  t.test(`${kind.name}: items leave at their age and tell whom to report to; an empty mailbox leaves at it too [SB-6.3-2]`, async (t) => {
    const { store } = kind.make(t, limits({ maxMailboxAgeMs: 1000 }));
    store.open('inbox', T0);
    store.enqueue('inbox', item('old', T0, 'r1'));
    store.enqueue('inbox', item('new', T0 + 600, 'r2'));
    t.same(store.sweep(T0 + 999), [], 'nothing is past its age yet');
    const expired = store.sweep(T0 + 1000);
    t.same(expired.map(({ name, item: queued }) => [name, queued.ref]), [['inbox', 'r1']], 'the oldest goes, with its sender\'s ref');
    t.same(bodies(store.take('inbox')), ['new'], 'the rest stays');
    store.open('empty', T0);
    store.sweep(T0 + 999);
    t.equal(store.has('empty'), true, 'an empty mailbox stays until its age');
    store.sweep(T0 + 1000);
    t.equal(store.has('empty'), false, 'and then goes');
  });

  t.test(`${kind.name}: what a holder took but never got goes back in front for the next one, if the store is durable [SB-6.3-4]`, async (t) => {
    const { store } = kind.make(t, limits());
    store.open('inbox', T0);
    store.enqueue('inbox', item('a'));
    store.enqueue('inbox', item('b'));
    const taken = store.take('inbox');
    store.open('inbox', T0 + 1); // the holder left before its frames were written: the name is offline again
    store.enqueue('inbox', item('c'));
    store.settle('inbox', taken, false);
    const again = store.take('inbox');
    if (store.durable) {
      t.same(bodies(again), ['a', 'b', 'c'], 'in front, in their order, with the same ids');
      t.same(again.slice(0, 2).map((queued) => queued.id), taken.map((queued) => queued.id));
    } else {
      t.same(bodies(again), ['c'], 'the memory store delivers at most once: what was taken is gone');
    }
  });

  t.test(`${kind.name}: what was queued and not written to a holder outlives the store exactly when it says it is durable [SB-6.3-1] [SB-6.3-4]`, async (t) => {
    const { store, reopen } = kind.make(t, limits());
    store.open('kept', T0);
    const ids = ['a', 'b'].map((body) => store.enqueue('kept', item(body)) as string);
    store.open('done', T0);
    store.enqueue('done', item('written'));
    store.settle('done', store.take('done'), true);
    store.open('taken', T0);
    store.enqueue('taken', item('on its way'));
    store.take('taken'); // taken, never settled: the broker died before the frames left
    await store.synced();
    const after = reopen();
    if (!store.durable) {
      t.equal(after.size, 0, 'the memory store keeps nothing');
      return;
    }
    const kept = after.take('kept');
    t.same(bodies(kept), ['a', 'b'], 'a mailbox comes back with its items, in order');
    t.same(kept.map((queued) => queued.id), ids, 'with their ids');
    t.same(bodies(after.take('taken')), ['on its way'], 'what was taken but not written comes back: at least once');
    t.same(after.take('done'), [], 'what was written does not');
    const next = (after.open('kept', T0), after.enqueue('kept', item('c', T0)) as string);
    t.ok(rises([...ids, next]), 'and the ids go on rising after it');
  });
}
