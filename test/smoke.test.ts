import t from 'tap';
import { decode } from '../lib/protocol/index.js';
t.test('decode refuses non-JSON', async (t) => {
  const r = decode('nope', 4, 100);
  t.equal(r.ok, false);
});
