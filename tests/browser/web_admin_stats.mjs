// The web admin's statistics driven in Debian's Chromium by playwright-core, as a person
// reads them. Run by tests/all/web_admin_stats.rs, which starts a server, calls
// test.stats a known number of times and starts a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, EXPECTED_CALLS, EXPECTED_ERRORS,
//   SCREENSHOTS (a directory), CHROMIUM.
// Prints each step, and "all steps passed" at the end; any failure exits non-zero.

import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set`);
  return value;
};
const base = env('WEB_ADMIN_URL').replace(/\/$/, '');
const calls = Number(env('EXPECTED_CALLS'));
const errors = Number(env('EXPECTED_ERRORS'));
const shots = env('SCREENSHOTS');

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
const page = await context.newPage();
page.setDefaultTimeout(20000);

const step = (text) => console.log(`- ${text}`);
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

/** The calls the bars of the counts chart add up to. */
async function barTotal() {
  const counts = await page.locator('svg.chart.counts rect.bar')
    .evaluateAll((bars) => bars.map((b) => Number(b.dataset.count)));
  return counts.reduce((a, b) => a + b, 0);
}

try {
  step('log in');
  await page.goto(base + '/login');
  await page.fill('input[name=username]', env('ZATO_USER'));
  await page.fill('input[name=password]', env('ZATO_PASSWORD'));
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')),
    page.locator('form[action="/login"] [type=submit]').click()]);

  step('the Statistics page, from the nav, lists test.stats with its calls and errors');
  await Promise.all([page.waitForURL((url) => url.pathname === '/stats'),
    page.locator('header nav a[href="/stats"]').click()]);
  const row = page.locator('table.stats tr[data-service="test.stats"]');
  assert.equal(Number(await row.locator('td.calls').textContent()), calls);
  assert.equal(Number(await row.locator('td.errors').textContent()), errors);
  await shot('stats');

  step('ordered by errors over the last hour, it is still there');
  await page.selectOption('select[name=by]', 'errors');
  await page.selectOption('select[name=last]', '1h');
  await Promise.all([page.waitForURL(/by=errors/), page.locator('form.search button').click()]);
  assert.equal(Number(await row.locator('td.calls').textContent()), calls);

  step('its page: figures, a chart of percentiles and one of calls adding up');
  await Promise.all([page.waitForURL(/\/stats\/services\/test\.stats/),
    row.locator('a').click()]);
  assert.equal(Number(await page.locator('tr.span td.calls').textContent()), calls);
  assert.equal(Number(await page.locator('tr.whole td.calls').textContent()), calls);
  const lines = await page.locator('svg.chart.durations .p99').count();
  assert.ok(lines >= 1, 'a p99 line or point');
  assert.equal(await barTotal(), calls);
  const box = await page.locator('svg.chart.counts').boundingBox();
  assert.ok(box && box.width > 300 && box.height > 80, `the chart is drawn: ${JSON.stringify(box)}`);

  step('the slow list has the slow call, with its request');
  // The 70 ms call is there; on a loaded machine a quick call of the load run can take
  // over the 50 ms threshold too, and be listed with it.
  const slow = page.locator('table.slow tbody tr');
  assert.ok(await slow.count() >= 1);
  const rows = await slow.allTextContents();
  assert.ok(rows.some((row) => /"ms":70/.test(row)), `the 70 ms call is listed: ${rows}`);

  step('the last call is shown with its request and response');
  assert.match(await page.locator('#sample pre.request').textContent(), /"ms":1/);
  await shot('stats-service');

  step('the last week, an hour a point, still adds up');
  await Promise.all([page.waitForURL(/range=week/),
    page.locator('nav.tabs a[href$="range=week"]').click()]);
  assert.equal(await barTotal(), calls);
  await shot('stats-week');
  console.log('all steps passed');
} finally {
  await browser.close();
}
