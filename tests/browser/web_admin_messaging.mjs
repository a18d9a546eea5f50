// The web admin's messaging channels driven in Debian's Chromium by playwright-core, as
// a person uses them. Run by tests/all/web_admin_messaging.rs, which starts a server
// (demo.hello deployed) and a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, ZATO_SERVER (the server's base URL),
//   BROKER_PASSWORD, SCREENSHOTS (a directory), CHROMIUM.
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
const brokerPassword = env('BROKER_PASSWORD');
const shots = env('SCREENSHOTS');
const basicAuth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

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

/** A channel as the cluster's admin API answers it: (status, text). */
async function stored(kind, name) {
  const response = await fetch(`${server}/zato/api/channels/${kind}/${name}`, { headers: { authorization: basicAuth } });
  return { status: response.status, text: await response.text() };
}

const toList = () => page.waitForURL((url) => url.pathname === '/channels/messaging');
const submit = () => page.locator('main form.stacked button[type=submit]').click();

try {
  step('log in');
  await page.goto(base + '/login');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')),
    page.locator('form[action="/login"] [type=submit]').click()]);

  step('the Messaging channels page, from the nav, has none yet');
  await Promise.all([toList(), page.locator('header nav a[href="/channels/messaging"]').click()]);
  assert.match(await page.textContent('main'), /No messaging channel yet/);

  step('create a ZeroMQ SUB channel through its form');
  await Promise.all([page.waitForURL(/\/channels\/messaging\/new\/zmq$/),
    page.locator('main a[href="/channels/messaging/new/zmq"]').click()]);
  assert.equal(await page.locator('input[name=secret]').count(), 0, 'no secret for ZeroMQ');
  await page.fill('input[name=name]', 'browser-feed');
  await page.fill('input[name=service]', 'demo.hello');
  await page.selectOption('select[name=socket]', 'sub');
  await page.fill('input[name=address]', 'tcp://127.0.0.1:1');
  await page.fill('textarea[name=subscriptions]', 'orders.\ninvoices.');
  await shot('msg-channel-form');
  await Promise.all([toList(), submit()]);
  const main = await page.textContent('main');
  assert.match(main, /Channel browser-feed \(zmq\) created/);
  const row = await page.locator('table.msg-channels tr', { has: page.locator('a[href="/channels/messaging/zmq/browser-feed"]') }).textContent();
  assert.match(row, /sub connected to tcp:\/\/127\.0\.0\.1:1/);
  assert.match(row, /demo\.hello/);
  const feed = await stored('zmq', 'browser-feed');
  assert.equal(feed.status, 200, feed.text);
  assert.deepEqual(JSON.parse(feed.text).settings.subscriptions, ['orders.', 'invoices.']);

  step('an AMQP channel the cluster refuses keeps what was typed, but not the password');
  await page.goto(base + '/channels/messaging/new/amqp');
  await page.fill('input[name=name]', 'browser-orders');
  await page.fill('input[name=service]', 'demo.hello');
  await page.fill('input[name=url]', `amqp://guest:${brokerPassword}@127.0.0.1:1/browser`);
  await page.fill('input[name=queue]', 'browser-in');
  await page.fill('input[name=consumers]', '0');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/channels/messaging/new/amqp')),
    submit(),
  ]);
  await page.waitForLoadState('load');
  assert.match(await page.locator('p.field-error', { hasText: 'settings.consumers' }).textContent(), /not within 1 to/);
  assert.equal(await page.inputValue('input[name=queue]'), 'browser-in');
  assert.equal(await page.inputValue('input[name=url]'), 'amqp://guest@127.0.0.1:1/browser');
  assert.ok(!(await page.content()).includes(brokerPassword), 'the password is not sent back');
  await shot('msg-channel-refused');

  step('corrected, with the password typed as the secret, it is created');
  await page.fill('input[name=consumers]', '2');
  await page.fill('input[name=secret]', brokerPassword);
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main'), /Channel browser-orders \(amqp\) created/);
  assert.ok(!(await page.content()).includes(brokerPassword), 'the list never shows the password');
  const orders = await stored('amqp', 'browser-orders');
  assert.equal(orders.status, 200, orders.text);
  assert.equal(JSON.parse(orders.text).secret_set, true);
  assert.equal(JSON.parse(orders.text).settings.consumers, 2);
  assert.ok(!orders.text.includes(brokerPassword), 'the secret never comes back');
  await shot('msg-channels');

  step('delete both, after a confirmation');
  for (const [kind, name] of [['amqp', 'browser-orders'], ['zmq', 'browser-feed']]) {
    await Promise.all([page.waitForURL(/\/delete$/),
      page.locator(`main a[href="/channels/messaging/${kind}/${name}/delete"]`).click()]);
    await Promise.all([toList(), page.locator('main form button.danger').click()]);
    assert.match(await page.textContent('main'), new RegExp(`Channel ${name} \\(${kind}\\) deleted`));
    assert.equal((await stored(kind, name)).status, 404);
  }
  assert.match(await page.textContent('main'), /No messaging channel yet/);

  console.log('all steps passed');
} finally {
  await browser.close();
}
