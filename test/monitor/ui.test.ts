/**
 * The dashboard in a real browser: headless Chromium (Debian's, driven by playwright-core) opens `/ui`
 * on a broker with known traffic, and the numbers it shows are the broker's; the drill-downs list the
 * known clients, names, topics and mailboxes; a kick closes a client (4010) and its row goes; the
 * request console sends a request through the browser client and shows the answer and its time. A
 * read-only monitor shows no act controls and refuses kicks; with an auth policy the page asks for a
 * token. Screenshots of every page go to .tap/screenshots/; with UPDATE_SCREENSHOT=1 a last test runs
 * half a minute of mixed traffic and writes the overview to lib/monitor/overview.png (the README's).
 * Needs a build (the console loads dist/client) and /usr/bin/chromium (CI's .ci/run installs it).
 */
import t, { type Test } from 'tap';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sha256, tokenPolicy, type Permissions } from '../../lib/broker/index.js';
import { built } from '../fixtures/broker-process.js';
import { nextEvent, readyClient, rejection, until, within } from '../fixtures/clients.js';
import { call, startMonitored, type Monitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? built() : `${CHROMIUM} is missing: apt-get install -y chromium`;
const SHOTS = join(ROOT, '.tap', 'screenshots');
const WAIT_MS = 15_000;

let browser: Browser | undefined;

async function launch(): Promise<Browser> {
  browser ??= await within(
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
    30_000,
    'chromium launch',
  );
  return browser;
}
t.teardown(() => browser?.close());

/** A page of a fresh context (its own sessionStorage); `problems` collects its errors. */
async function open(t: Test, monitor: string): Promise<{ page: Page; problems: string[] }> {
  const context = await (await launch()).newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  // A failed test leaves a picture of where the page was.
  t.teardown(async () => {
    if (!t.passing()) await shoot(page, `failed-${t.name.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => {});
    await context.close();
  });
  page.setDefaultTimeout(WAIT_MS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  await page.goto(`${monitor}/ui`);
  return { page, problems };
}

/** Waits until the text of `selector` is `text` (trimmed); fails naming what it saw. */
async function shows(page: Page, selector: string, text: string): Promise<void> {
  try {
    await page.waitForFunction(([s, x]) => document.querySelector(s)?.textContent?.trim() === x, [selector, text] as const, { timeout: WAIT_MS });
  } catch {
    const seen = await page.locator(selector).first().textContent({ timeout: 100 }).catch(() => '(nothing)');
    throw new Error(`${selector} should show "${text}", shows "${seen?.trim()}"`);
  }
}

async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function go(page: Page, route: string): Promise<void> {
  await page.evaluate((r) => (location.hash = r), route);
}

/**
 * Known traffic: calc answers, flaky refuses, a pool of two answers, sleeper never answers (one request
 * held pending, one timed out), asker asks; subscriptions to news (2) and alerts (1); the durable
 * jobs.nightly's mailbox holds two messages.
 */
async function knownTraffic(t: Test, m: Monitored) {
  const { url, broker } = m;
  const calc = await readyClient(t, url, { name: 'calc' });
  calc.handle((message) => ({ echo: message }));
  await calc.subscribe('news', () => {});
  const flaky = await readyClient(t, url, { name: 'flaky', reconnect: false });
  flaky.handle(() => {
    throw Object.assign(new Error('not today'), { code: 'refused' });
  });
  const members = [];
  for (let i = 0; i < 2; i++) {
    const member = await readyClient(t, url, { name: { name: 'workers', shared: true } });
    member.handle((message) => message);
    members.push(member);
  }
  await members[0].subscribe('news', () => {});
  await members[0].subscribe('alerts', () => {});
  const sleeper = await readyClient(t, url, { name: 'sleeper' });
  sleeper.handle(() => new Promise(() => {}));
  const asker = await readyClient(t, url, { name: 'asker' });
  const away = await Peer.connect(url);
  away.send({ action: 'register', id: 'jobs.nightly', durable: true });
  await away.next((f) => f.action === 'registered');
  await away.close();
  await until(() => broker.mailboxes.size === 1, 'the mailbox of jobs.nightly');
  await asker.send('jobs.nightly', { run: 1 });
  await asker.send('jobs.nightly', { run: 2 });

  for (let i = 0; i < 3; i++) await asker.request('calc', i);
  for (let i = 0; i < 2; i++) await rejection(asker.request('flaky', i));
  for (let i = 0; i < 4; i++) await asker.request('workers', i);
  await rejection(asker.request('nobody', 1));
  await rejection(asker.request('sleeper', 1, { timeout: 100 }), 5000);
  asker.request('sleeper', 'held', { timeout: 120_000 }).catch(() => {});
  await until(() => broker.stats().pending === 1, 'one request held');
  t.match(broker.stats(), { connections: 6, names: 5, subscriptions: 3, pending: 1, queued: 2 }, 'the known set');
  return { calc, flaky, members, sleeper, asker };
}

t.test('the dashboard shows the broker\'s numbers, drills down, kicks a client and sends a request', { skip, timeout: 120_000 }, async (t) => {
  const m = await startMonitored(t, { durableNames: ['jobs.*'] });
  const known = await knownTraffic(t, m);
  const { page, problems } = await open(t, m.monitor);

  // The overview, from the stream.
  await shows(page, '[data-stat=connections]', '6');
  await shows(page, '[data-stat=names]', '5');
  await shows(page, '[data-stat=subscriptions]', '3');
  await shows(page, '[data-stat=pending]', '1');
  await shows(page, '[data-stat=queued]', '2');
  await shows(page, '[data-total=answer]', '7');
  await shows(page, '[data-total=error_answer]', '2');
  await shows(page, '[data-total=no_responders]', '1');
  await shows(page, '[data-total=timeout]', '1');
  await page.locator('[data-testid=rates-chart] canvas').waitFor();
  await page.locator('[data-testid=latency-chart] canvas').waitFor();
  // Traffic while it watches: the rate chart's last point and the latency card move.
  for (let i = 0; i < 20; i++) await known.asker.request('calc', i);
  await page.waitForFunction(() => ['p50', 'p99'].every((q) => /^\d+(\.\d+)? (ms|s)$/.test(document.querySelector(`[data-stat=${q}]`)?.textContent?.trim() ?? '')));
  await shows(page, '[data-total=answer]', '27');
  await shoot(page, 'overview');

  // Connections: all six, filtered, sorted.
  await go(page, '#/connections');
  await page.locator('[data-testid=connections] tbody tr').nth(5).waitFor();
  t.equal(await page.locator('[data-testid=connections] tbody tr').count(), 6, 'six connections');
  const ids = [...m.broker.sessions].map((s) => s.id).sort();
  const shown = await page.locator('[data-testid=connections] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-connection')));
  t.same([...shown].sort(), ids, 'the broker\'s connections');
  await page.fill('[data-testid=filter]', 'workers');
  await shows(page, '[data-testid=shown]', '2 of 6 connections');
  await page.fill('[data-testid=filter]', '');
  await page.click('th[data-sort=in]');
  const framesIn = await page.locator('[data-testid=connections] tbody tr td:nth-child(8)').allTextContents();
  const numbers = framesIn.map((text) => Number(text.replace(/,/g, '')));
  t.same(numbers, [...numbers].sort((a, b) => b - a), 'sorted by frames in, largest first');
  t.equal(numbers[0], [...m.broker.sessions].find((s) => s.names.has('asker'))!.traffic.framesIn, 'the asker sent the most');
  await shoot(page, 'connections');

  // Names, and one name's outcomes.
  await go(page, '#/names');
  await page.locator('[data-testid=names] tr[data-name=workers]').waitFor();
  const names = await page.locator('[data-testid=names] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')));
  t.same(names, ['asker', 'calc', 'flaky', 'sleeper', 'workers']);
  t.equal((await page.locator('tr[data-name=workers] td').nth(1).textContent())?.trim(), 'pool');
  await page.click('tr[data-name=calc] a');
  await shows(page, '[data-testid=name-title]', 'calc');
  await shows(page, '[data-stat=name-total]', '23');
  await shows(page, '[data-testid=name-outcomes] [data-total=answer]', '23');
  await shoot(page, 'name');
  await go(page, '#/names/workers');
  await shows(page, '[data-testid=name-outcomes] [data-total=answer]', '4');
  t.equal(await page.locator('[data-testid=holders] tbody tr').count(), 2, 'two members');
  await go(page, '#/names/sleeper');
  await shows(page, '[data-testid=name-outcomes] [data-total=timeout]', '1');
  await shows(page, '[data-testid=name-summary]', 'held by one connection, 1 in flight kick holders');

  // Topics and mailboxes.
  await go(page, '#/topics');
  await shows(page, '[data-topic=news] td.num', '2');
  await shows(page, '[data-topic=alerts] td.num', '1');
  await shoot(page, 'topics');
  await go(page, '#/mailboxes');
  await shows(page, '[data-mailbox="jobs.nightly"] td:nth-child(2)', '2');
  await shoot(page, 'mailboxes');

  // Kick flaky: two clicks, and its row goes.
  const flakyId = [...m.broker.sessions].find((s) => s.names.has('flaky'))!.id;
  const closed = nextEvent<[{ error?: { code: string } }]>(known.flaky, 'closed', WAIT_MS);
  await go(page, '#/connections');
  const row = page.locator(`tr[data-connection="${flakyId}"]`);
  await row.locator('[data-action=kick]').click();
  await row.locator('[data-action=confirm-kick]').click();
  await closed;
  await until(() => m.broker.sessionById(flakyId) === undefined, 'the broker forgets the kicked connection');
  await row.waitFor({ state: 'detached' });
  await shows(page, '[data-testid=shown]', '5 of 5 connections');

  // The request console: through the browser client, to calc, then to nobody.
  await go(page, '#/console');
  await page.fill('[data-testid=console-dest]', 'calc');
  await page.fill('[data-testid=console-message]', '{"add":[1,2]}');
  await page.click('[data-action=send]');
  const answer = page.locator('[data-testid=console-results] li').first();
  await answer.waitFor();
  t.equal(await answer.getAttribute('data-outcome'), 'answer');
  t.same(JSON.parse((await answer.locator('[data-testid=console-body]').textContent()) ?? ''), { echo: { add: [1, 2] } }, 'calc\'s answer');
  t.match(await answer.locator('[data-testid=console-time]').textContent(), /^\d+(\.\d+)? (ms|s)$/, 'and its time');
  await page.fill('[data-testid=console-dest]', 'nobody');
  await page.click('[data-action=send]');
  await page.locator('[data-testid=console-results] li[data-outcome=no_responders]').waitFor();
  await shoot(page, 'console');
  t.equal(m.broker.metrics.requests.answer, 28, 'the console\'s request went through the broker');
  t.same(problems, [], 'no errors in the page');
});

t.test('read-only: no kick, no console, and the monitor refuses kicks', { skip, timeout: 60_000 }, async (t) => {
  const m = await startMonitored(t, { monitor: { host: '127.0.0.1', port: 0, readonly: true } });
  const target = await readyClient(t, m.url, { name: 'target' });
  const { page, problems } = await open(t, m.monitor);
  await page.locator('[data-testid=readonly]').waitFor();
  await shows(page, '[data-stat=connections]', '1');
  t.equal(await page.locator('nav a[data-page=console]').count(), 0, 'no console');
  await go(page, '#/connections');
  await page.locator('[data-testid=connections] tbody tr').first().waitFor();
  t.equal(await page.locator('[data-action=kick]').count(), 0, 'no kick button');
  await go(page, '#/names/target');
  await shows(page, '[data-testid=name-summary]', 'held by one connection, 0 in flight');
  const id = [...m.broker.sessions][0].id;
  const status = await page.evaluate((path) => fetch(path, { method: 'POST' }).then((r) => r.status), `/v1/connections/${id}/kick`);
  t.equal(status, 403, 'a kick from the page is refused');
  t.match(await call(m.monitor, `/v1/names/target/kick`, { method: 'POST' }), { status: 403, json: { message: /read-only/ } });
  t.equal(target.status, 'ready', 'and nobody was kicked');
  await shoot(page, 'readonly');
  t.same(problems.filter((p) => !/status of 403/.test(p)), [], 'no errors in the page but the refused kick');
});

t.test('with an auth policy the page asks for a token, keeps it for the tab, and shows what it permits', { skip, timeout: 60_000 }, async (t) => {
  const identity = (id: string, token: string, permissions: Permissions) => ({ id, tokenSha256: sha256(token).toString('hex'), permissions });
  const m = await startMonitored(t, {
    auth: tokenPolicy([
      identity('app', 'app-token', { register: ['*'], send: ['*'] }),
      identity('viewer', 'viewer-token', { monitor: ['read'] }),
      identity('operator', 'operator-token', { monitor: ['read', 'write'], register: ['*'], send: ['*'] }),
    ]),
  });
  const calc = await readyClient(t, m.url, { name: 'calc', token: 'app-token' });
  calc.handle((message) => ({ echo: message }));
  const { page, problems } = await open(t, m.monitor);
  const signIn = async (token: string) => {
    await page.fill('[data-testid=token]', token);
    await page.click('[data-action=sign-in]');
  };

  await page.locator('[data-testid=login]').waitFor();
  await signIn('guess');
  await page.waitForFunction(() => document.querySelector('[data-testid=login]')?.textContent?.includes('the token is not valid'));
  await signIn('app-token');
  await page.waitForFunction(() => document.querySelector('[data-testid=login]')?.textContent?.includes('lacks the monitor permission'));
  await signIn('viewer-token');
  await shows(page, '[data-stat=connections]', '1');
  t.equal(await page.locator('nav a[data-page=console]').count(), 0, 'a viewer has no console');
  await go(page, '#/connections');
  await page.locator('[data-testid=connections] tbody tr').first().waitFor();
  t.equal(await page.locator('[data-action=kick]').count(), 0, 'and no kick');
  await go(page, '#/overview');
  await page.reload();
  await shows(page, '[data-stat=connections]', '1');
  t.pass('the token outlives a reload (sessionStorage)');
  await page.click('text=sign out');
  await page.locator('[data-testid=login]').waitFor();
  await signIn('operator-token');
  await page.click('nav a[data-page=console]');
  await page.fill('[data-testid=console-dest]', 'calc');
  await page.fill('[data-testid=console-message]', '"with a token"');
  await page.click('[data-action=send]');
  const answer = page.locator('[data-testid=console-results] li').first();
  await answer.waitFor();
  t.equal(await answer.getAttribute('data-outcome'), 'answer', 'the console\'s client authenticated with the operator\'s token');
  const console = [...m.broker.sessions].find((s) => !s.names.has('calc'));
  t.equal(console?.identity?.id, 'operator');
  await shoot(page, 'auth-console');
  // The refused tokens were answered 401 and 403: the browser reports those responses, nothing else.
  t.same(problems.filter((p) => !/status of 40[13]/.test(p)), [], 'no errors in the page');
});

t.test('the README\'s picture of the overview, after half a minute of mixed traffic (UPDATE_SCREENSHOT=1 only)', {
  skip: skip ?? (process.env.UPDATE_SCREENSHOT === '1' ? false : 'set UPDATE_SCREENSHOT=1 to write lib/monitor/overview.png'),
  timeout: 120_000,
}, async (t) => {
  const m = await startMonitored(t, { durableNames: ['jobs.*'] });
  const known = await knownTraffic(t, m);
  const { page, problems } = await open(t, m.monitor);
  await page.locator('[data-testid=rates-chart] canvas').waitFor();
  const end = Date.now() + 30_000;
  let round = 0;
  while (Date.now() < end) {
    round++;
    const burst = 20 + 15 * Math.sin(round / 8);
    const asked = Array.from({ length: Math.round(burst) }, (_, i) => {
      const dest = i % 12 === 0 ? 'flaky' : i % 2 === 0 ? 'workers' : 'calc';
      return known.asker.request(dest, { round, i }).catch(() => {});
    });
    if (round % 10 === 0) asked.push(known.asker.request('sleeper', round, { timeout: 50 }).catch(() => {}));
    if (round % 15 === 0) asked.push(known.asker.request('nobody', round).catch(() => {}));
    await Promise.all(asked);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await shoot(page, 'overview-readme');
  copyFileSync(join(SHOTS, 'overview-readme.png'), join(ROOT, 'lib', 'monitor', 'overview.png'));
  t.same(problems, [], 'no errors in the page');
});
