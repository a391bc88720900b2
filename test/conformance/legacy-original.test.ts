/**
 * The legacy profile describes wsmsgbroker 1.7.2 as it is: it passes against the original server,
 * started in this process from the npm package (issue 4).
 */
import t from 'tap';
import { runSuite } from '../../lib/conformance/index.js';
import { startOriginal } from './original-server.js';

t.test('the legacy profile passes against the original wsmsgbroker 1.7.2 server', async (t) => {
  const { url } = await startOriginal(t);
  const lines: string[] = [];
  const result = await runSuite({ url, profiles: ['legacy'], write: (line) => lines.push(line) });
  t.equal(result.failed, 0, 'no case fails', { output: lines.join('\n') });
  t.ok(result.passed >= 8, 'the profile has its cases');
  t.match(lines.at(-1), /^\d+ passed, 0 failed$/);
});
