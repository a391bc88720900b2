/**
 * RenewingMap and RenewingSet behave as Map and Set do, across the copies they make of themselves
 * (collections/renewing.ts): same entries, same insertion order, same sizes, whatever the mix of inserts
 * and deletes. Checked against the built-in collections as the model. And they do what they are for: a
 * long-lived one does not make scavenges promote the entries it held, where a Map does.
 */
import t from 'tap';
import fc from 'fast-check';
import v8 from 'node:v8';
import vm from 'node:vm';
import { RENEW_AFTER, RenewingMap, RenewingSet } from '../../lib/collections/renewing.js';

type Op = { kind: 'set' | 'delete'; key: number };
const ops = fc.array(fc.record({ kind: fc.constantFrom<'set' | 'delete'>('set', 'set', 'delete'), key: fc.integer({ min: 0, max: 40 }) }), { maxLength: 400 });

/** Enough churn to make several copies: keys come and go, a few stay. */
function churn(n: number): Op[] {
  const out: Op[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ kind: 'set', key: i });
    if (i % 7 !== 0) out.push({ kind: 'delete', key: i });
  }
  return out;
}

t.test('a RenewingMap holds what a Map holds, in the same order, across its copies', async (t) => {
  const check = (list: Op[]) => {
    const model = new Map<number, number>();
    const map = new RenewingMap<number, number>();
    list.forEach(({ kind, key }, i) => {
      if (kind === 'set') {
        model.set(key, i);
        map.set(key, i);
      } else t.equal(map.delete(key), model.delete(key));
    });
    t.equal(map.size, model.size);
    t.same([...map], [...model]);
    t.same([...map.keys()], [...model.keys()]);
    t.same([...map.values()], [...model.values()]);
    for (const key of model.keys()) t.equal(map.get(key), model.get(key), `get ${key}`);
    for (const key of model.keys()) t.ok(map.has(key), `has ${key}`);
    t.notOk(map.has(-1));
  };
  fc.assert(fc.property(ops, (list) => void check(list)), { numRuns: 50 });
  check(churn(RENEW_AFTER * 5));
  const map = new RenewingMap<number, number>();
  map.set(1, 1);
  map.clear();
  t.equal(map.size, 0);
});

t.test('a RenewingSet holds what a Set holds, in the same order, across its copies', async (t) => {
  const check = (list: Op[]) => {
    const model = new Set<number>();
    const set = new RenewingSet<number>();
    for (const { kind, key } of list) {
      if (kind === 'set') {
        model.add(key);
        set.add(key);
      } else t.equal(set.delete(key), model.delete(key));
    }
    t.equal(set.size, model.size);
    t.same([...set], [...model]);
    t.same([...set.values()], [...model.values()]);
    for (const key of model) t.ok(set.has(key));
  };
  fc.assert(fc.property(ops, (list) => void check(list)), { numRuns: 50 });
  check(churn(RENEW_AFTER * 5));
});

t.test('entries that came and went through a long-lived RenewingMap are not promoted by scavenges; through a Map they are', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
  const oldSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!.space_used_size;
  type Table = { set(key: string, value: unknown): unknown; delete(key: string): unknown };
  /** Old-space growth while 100,000 entries of about 200 bytes each come and go, with a scavenge every 2,000. */
  const promoted = (table: Table): number => {
    for (let i = 0; i < 100; i++) table.set(`k${i}`, { i });
    gc(); // a full GC: the table, and its current hash table, are in the old generation now
    gc();
    const before = oldSpace();
    let n = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 2000; i++) {
        const key = `r${n++}`;
        table.set(key, { n, pad: new Array(16).fill(n) });
        table.delete(key);
      }
      gc({ type: 'minor' });
    }
    return oldSpace() - before;
  };
  const MiB = 2 ** 20;
  const none = promoted({ set: () => undefined, delete: () => undefined }); // what the loop itself leaves
  const map = promoted(new Map());
  const renewing = promoted(new RenewingMap());
  t.comment(`old space grew ${(none / MiB).toFixed(1)} MiB with no table, ${(map / MiB).toFixed(1)} with a Map, ${(renewing / MiB).toFixed(1)} with a RenewingMap`);
  // If V8 stops keeping a rehashed table's entries alive, this fails: RenewingMap is then no longer needed.
  t.ok(map - none > 2 * MiB, 'a Map promotes what it held (the reason RenewingMap exists)');
  t.ok(renewing - none < 1 * MiB, 'a RenewingMap promotes no more than the loop alone');
});
