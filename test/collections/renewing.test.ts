/**
 * RenewingMap and RenewingSet behave as Map and Set do, across the copies they make of themselves
 * (collections/renewing.ts): same entries, same insertion order, same sizes, whatever the mix of inserts
 * and deletes. Checked against the built-in collections as the model.
 */
import t from 'tap';
import fc from 'fast-check';
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
