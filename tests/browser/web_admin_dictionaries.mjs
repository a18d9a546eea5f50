// The web admin's data dictionary page driven in Debian's Chromium by playwright-core,
// as a person uses it. Run by tests/all/web_admin_dictionaries.rs, which starts a
// server (demo.currency deployed) and a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, ZATO_SERVER (the server's base URL),
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
const user = env('ZATO_USER');
const password = env('ZATO_PASSWORD');
const server = env('ZATO_SERVER').replace(/\/$/, '');
const shots = env('SCREENSHOTS');
const basicAuth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(20000);

const step = (text) => console.log(`- ${text}`);
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

/** What demo.currency answers for a CRM currency code: (status, JSON). */
async function currency(code) {
  const response = await fetch(`${server}/zato/api/services/demo.currency/invoke`, {
    method: 'POST',
    headers: { authorization: basicAuth, 'content-type': 'application/json' },
    body: JSON.stringify({ currency: code }),
  });
  return { status: response.status, json: await response.json() };
}

const header = 'system1,key1,value1,system2,key2,value2';
const toPage = () => page.waitForURL((url) => url.pathname === '/dictionaries');

try {
  step('log in');
  await page.goto(base + '/login');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')),
    page.locator('form[action="/login"] [type=submit]').click()]);

  step('the Dictionaries page, from the nav, has no translation yet');
  await Promise.all([toPage(), page.locator('header nav a[href="/dictionaries"]').click()]);
  assert.match(await page.textContent('main'), /No translation yet/);

  step('an import with an empty system on line 3 is refused, naming the line, and imports nothing');
  await page.fill('#import textarea[name=data]',
    `${header}\ncrm,currency,USD,accounting,currency,840\n,currency,EUR,accounting,currency,978\n`);
  await Promise.all([toPage(), page.locator('#import button[type=submit]').click()]);
  const refused = await page.textContent('main .notice.error');
  assert.match(refused, /Nothing was imported: line 3: system1 `` is empty/);
  assert.match(await page.textContent('#translations'), /No translation yet/);
  assert.equal((await currency('USD')).status, 400, 'not even line 2 was imported');
  await shot('dictionary-refused');

  step('the corrected import lists both translations, and the service translates with them');
  await page.fill('#import textarea[name=data]',
    `${header}\ncrm,currency,USD,accounting,currency,840\ncrm,currency,EUR,accounting,currency,978\n`);
  await Promise.all([toPage(), page.locator('#import button[type=submit]').click()]);
  assert.match(await page.textContent('main .notice.ok'), /Imported 2 translations and 4 entries/);
  const table = await page.textContent('#translations');
  assert.match(table, /840/);
  assert.match(table, /978/);
  assert.deepEqual(await currency('USD'), { status: 200, json: { crm: 'USD', accounting: '840' } });

  step('set USD to 841 through the form: the service answers 841 at once');
  await page.fill('#set input[name=system1]', 'crm');
  await page.fill('#set input[name=key1]', 'currency');
  await page.fill('#set input[name=value1]', 'USD');
  await page.fill('#set input[name=system2]', 'accounting');
  await page.fill('#set input[name=key2]', 'currency');
  await page.fill('#set input[name=value2]', '841');
  await Promise.all([toPage(), page.locator('#set button[type=submit]').click()]);
  assert.match(await page.textContent('main .notice.ok'), /crm\/currency\/USD now translates to accounting\/currency\/841/);
  assert.doesNotMatch(await page.textContent('#translations'), /840/);
  assert.deepEqual(await currency('USD'), { status: 200, json: { crm: 'USD', accounting: '841' } });
  await shot('dictionaries');

  step('remove the EUR translation from its row');
  const eur = page.locator('#translations tr', { hasText: 'EUR' });
  await Promise.all([toPage(), eur.locator('button[type=submit]').click()]);
  assert.match(await page.textContent('main .notice.ok'), /Removed the translation of/);
  assert.doesNotMatch(await page.textContent('#translations'), /EUR/);
  assert.equal((await currency('EUR')).status, 400);

  step('the CSV export holds what is left');
  const exported = await page.request.get(base + '/dictionaries/export?format=csv');
  assert.equal(exported.status(), 200);
  assert.match(exported.headers()['content-disposition'], /dictionary\.csv/);
  const csv = await exported.text();
  assert.ok(csv.startsWith(header + '\n'), csv);
  assert.match(csv, /accounting,currency,841,crm,currency,USD/);
  assert.doesNotMatch(csv, /978,crm/);

  console.log('all steps passed');
} finally {
  await browser.close();
}
