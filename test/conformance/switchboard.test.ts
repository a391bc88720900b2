/**
 * Both profiles pass against switchboard (issue 4). Cases that need broker settings other than
 * protocol.md's defaults (`requires`) run against a broker started with exactly those settings; every
 * other case runs against a broker with the defaults.
 */
import t from 'tap';
import { loadProfile, runSuite } from '../../lib/conformance/index.js';
import { startBroker } from '../fixtures/broker.js';
import { brokerOptions, settingsOf } from '../fixtures/conformance.js';

for (const profile of ['legacy', 'extended']) {
  t.test(`the ${profile} profile passes against switchboard`, async (t) => {
    let ran = 0;
    for (const settings of await settingsOf(profile)) {
      await t.test(`with settings ${JSON.stringify(settings)}`, async (t) => {
        const { url } = await startBroker(t, brokerOptions(settings));
        const lines: string[] = [];
        const result = await runSuite({ url, settings, profiles: [profile], write: (line) => lines.push(line) });
        const failed = result.results.filter((r) => r.status === 'fail').map((r) => r.id);
        if (failed.length > 0) t.comment(lines.filter((line) => !line.startsWith('ok ')).join('\n'));
        t.same(failed, [], 'no case fails (their transcripts are in the comments above)');
        t.match(lines.at(-1), /^\d+ passed, \d+ failed$/, 'the output closes with the counts');
        ran += result.passed + result.failed;
      });
    }
    const cases = (await loadProfile(profile)).filter((c) => !(c instanceof Error) && c.skip === undefined);
    t.equal(ran, cases.length, 'every case that is not skipped for good ran against one of the brokers');
  });
}
