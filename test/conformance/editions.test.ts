/**
 * Editions only add (protocol.md section 11): every conformance case of an earlier edition is still in
 * spec/cases, byte for byte, so the conformance runs of this suite (switchboard.test.ts, which runs every
 * case in spec/cases) run them unchanged against the broker of this edition. spec/editions/N.sha256 lists
 * the cases as they stood when edition N was complete.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';

const cases = new URL('../../spec/cases/', import.meta.url);

function manifest(edition: number): string[] {
  return readFileSync(new URL(`../../spec/editions/${edition}.sha256`, import.meta.url), 'utf8').trim().split('\n');
}

for (const [edition, least] of [[1, 80], [2, 90], [3, 110]] as const) {
  t.test(`every conformance case of edition ${edition} is still in spec/cases, unchanged`, async (t) => {
    const lines = manifest(edition);
    t.ok(lines.length > least, `the manifest lists edition ${edition}'s ${lines.length} cases`);
    for (const line of lines) {
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
}
