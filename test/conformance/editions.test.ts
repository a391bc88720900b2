/**
 * Editions only add (protocol.md section 11): every conformance case of the first edition is still in
 * spec/cases, byte for byte, so the conformance runs of this suite (switchboard.test.ts, which runs every
 * case in spec/cases) run them unchanged against the broker of this edition.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';

const cases = new URL('../../spec/cases/', import.meta.url);
const manifest = readFileSync(new URL('../../spec/editions/1.sha256', import.meta.url), 'utf8').trim().split('\n');

t.test('every first-edition conformance case is still in spec/cases, unchanged', async (t) => {
  t.ok(manifest.length > 80, `the manifest lists the first edition's ${manifest.length} cases`);
  for (const line of manifest) {
    const [hash, file] = line.split(/\s+/);
    let text: Buffer | undefined;
    try {
      text = readFileSync(new URL(file, cases));
    } catch {
      text = undefined;
    }
    t.ok(text !== undefined, `${file} is present`);
    if (text !== undefined) t.equal(createHash('sha256').update(text).digest('hex'), hash, `${file} is unchanged`);
  }
});
