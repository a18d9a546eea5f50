// The web admin's security definitions page driven in Debian's Chromium by
// playwright-core, as a person uses it. Run by tests/all/web_admin_security.rs, which
// starts a server and a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, PARTNER_PASSWORD (basic auth's password),
//   (the JWT definition's key is the script's own, jwtKey)
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
const partnerPassword = env('PARTNER_PASSWORD');
const shots = env('SCREENSHOTS');

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

// 20 characters, and the one it is changed to; a key of 5 is too short.
const crmKey = 'crm-key-0123456789ab';
const newCrmKey = 'crm-key-changed-0123456789';
const shortKey = 'short';
// The JWT definition's HS256 key: 32 characters at least.
const jwtKey = 'jwt-key-web-0123456789abcdef0123456789';

const toList = () => page.waitForURL((url) => url.pathname === '/security');
const submit = () => page.locator('main form.stacked button[type=submit]').click();
const row = (name) => page.locator('table.security tr', { has: page.locator(`a[href="/security/${name}"]`) });
/** Submits a form the web admin answers with itself (a refusal): waits for the page. */
async function submitRefused(path) {
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(path)),
    submit(),
  ]);
  await page.waitForLoadState('load');
}
/** Asserts the secret field is write-only: a password input, empty, never filled in. */
async function secretFieldIsWriteOnly() {
  const secret = page.locator('input[name=secret]');
  assert.equal(await secret.getAttribute('type'), 'password');
  assert.equal(await secret.getAttribute('autocomplete'), 'new-password');
  assert.equal(await secret.inputValue(), '');
}
/** Asserts no secret typed so far is anywhere in the page's HTML. */
async function noSecretInPage() {
  const html = await page.content();
  for (const secret of [partnerPassword, crmKey, newCrmKey, shortKey]) {
    assert.ok(!html.includes(secret), `${secret} is not in the page`);
  }
}

try {
  step('log in');
  await page.goto(base + '/login');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')),
    page.locator('form[action="/login"] [type=submit]').click()]);

  step('the Security page, from the nav, has no definition yet');
  await Promise.all([toList(), page.locator('header nav a[href="/security"]').click()]);
  assert.match(await page.textContent('main'), /No security definition yet/);

  step('create the basic-auth definition partner through its form');
  await Promise.all([page.waitForURL(/\/security\/new\/basic-auth$/),
    page.locator('main a[href="/security/new/basic-auth"]').click()]);
  await secretFieldIsWriteOnly();
  assert.equal(await page.locator('input[name=secret]').getAttribute('required'), '', 'required on a create');
  await page.fill('input[name=name]', 'partner');
  await page.fill('input[name=username]', 'acme');
  await page.fill('input[name=realm]', 'partners');
  await page.fill('input[name=secret]', partnerPassword);
  await shot('security-form');
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /Security definition partner \(basic-auth\) created/);
  const partner = await row('partner').textContent();
  assert.match(partner, /basic-auth/);
  assert.match(partner, /acme/);
  assert.match(partner, /partners/);
  await noSecretInPage();

  step('an API key of 5 characters is refused naming 16, with what was typed kept but the key');
  await Promise.all([page.waitForURL(/\/security\/new\/apikey$/),
    page.locator('main a[href="/security/new/apikey"]').click()]);
  await page.fill('input[name=name]', 'crm');
  await page.fill('input[name=header]', 'X-Client-Key');
  await page.fill('input[name=secret]', shortKey);
  await submitRefused('/security/new/apikey');
  assert.match(await page.locator('p.field-error').textContent(), /at least 16/);
  assert.equal(await page.inputValue('input[name=name]'), 'crm');
  assert.equal(await page.inputValue('input[name=header]'), 'X-Client-Key');
  await secretFieldIsWriteOnly();
  await noSecretInPage();
  await shot('security-refused');

  step('with a key of 20 characters the apikey definition crm is created');
  await page.fill('input[name=secret]', crmKey);
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /Security definition crm \(apikey\) created/);
  const crm = await row('crm').textContent();
  assert.match(crm, /apikey/);
  assert.match(crm, /X-Client-Key/);
  await noSecretInPage();

  step("edit partner's realm, the password left empty");
  await Promise.all([page.waitForURL(/\/security\/partner$/), row('partner').locator('a[href="/security/partner"]').click()]);
  await secretFieldIsWriteOnly();
  assert.equal(await page.locator('input[name=secret]').getAttribute('required'), null, 'optional on an edit');
  assert.equal(await page.inputValue('input[name=username]'), 'acme');
  assert.equal(await page.inputValue('input[name=realm]'), 'partners');
  await page.fill('input[name=realm]', 'partners-eu');
  await Promise.all([toList(), submit()]);
  const saved = await page.textContent('main .notice.ok');
  assert.match(saved, /Security definition partner \(basic-auth\) saved/);
  assert.doesNotMatch(saved, /password changed/);
  assert.match(await row('partner').textContent(), /partners-eu/);

  step("a key too short is refused on crm's edit form too; then its key is changed");
  await Promise.all([page.waitForURL(/\/security\/crm$/), row('crm').locator('a[href="/security/crm"]').click()]);
  await secretFieldIsWriteOnly();
  assert.equal(await page.inputValue('input[name=header]'), 'X-Client-Key');
  await page.fill('input[name=secret]', shortKey);
  await submitRefused('/security/crm');
  assert.match(await page.locator('p.field-error').textContent(), /at least 16/);
  await secretFieldIsWriteOnly();
  await page.fill('input[name=secret]', newCrmKey);
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /Security definition crm \(apikey\) saved, its key changed/);
  await noSecretInPage();
  await shot('security');

  step('delete crm, after a confirmation');
  await Promise.all([page.waitForURL(/\/security\/crm\/delete$/),
    row('crm').locator('a[href="/security/crm/delete"]').click()]);
  assert.match(await page.textContent('main'), /Delete security definition crm\?/);
  await Promise.all([toList(), page.locator('main form button.danger').click()]);
  assert.match(await page.textContent('main .notice.ok'), /Security definition crm \(apikey\) deleted/);
  assert.equal(await row('crm').count(), 0);
  assert.equal(await row('partner').count(), 1);

  step('a new HTTP channel is guarded by partner, chosen in its form');
  await page.goto(base + '/channels/http/new');
  const choices = await page.locator('select[name=security] option').allTextContents();
  assert.deepEqual(choices.slice(1), ['partner'], 'crm is gone, partner is offered');
  await page.fill('input[name=name]', 'partner-orders');
  await page.fill('input[name=path]', '/partner/orders');
  await page.fill('input[name=service]', 'test.echo');
  await page.selectOption('select[name=security]', 'partner');
  await shot('channel-security');
  await Promise.all([page.waitForURL((url) => url.pathname === '/channels/http'), submit()]);
  const channelRow = page.locator('tr', { has: page.locator('a[href="/channels/http/partner-orders"]') });
  assert.match(await channelRow.textContent(), /partner/);

  step('its edit form shows partner chosen');
  await page.goto(base + '/channels/http/partner-orders');
  assert.equal(await page.inputValue('select[name=security]'), 'partner');

  step('partner cannot be deleted while the channel names it, and the page says so');
  await page.goto(base + '/security/partner/delete');
  await page.locator('main form button.danger').click();
  await page.waitForLoadState('load');
  assert.match(await page.textContent('main'), /HTTP channel `partner-orders`/);
  await page.goto(base + '/security');
  assert.equal(await row('partner').count(), 1);

  step('a JWT definition logging in with partner, through its form; a short key refused first');
  await Promise.all([page.waitForURL(/\/security\/new\/jwt$/),
    page.locator('main a[href="/security/new/jwt"]').click()]);
  await page.fill('input[name=name]', 'partner-jwt');
  await page.selectOption('select[name=algorithm]', 'HS256');
  await page.fill('input[name=issuer]', 'zato-web');
  await page.fill('input[name=audience]', 'partners');
  await page.fill('input[name=ttl_s]', '900');
  await page.fill('input[name=login]', 'partner');
  await page.fill('textarea[name=secret]', shortKey);
  await submitRefused('/security/new/jwt');
  assert.match(await page.locator('p.field-error').textContent(), /32/);
  assert.equal(await page.inputValue('input[name=issuer]'), 'zato-web');
  assert.equal(await page.inputValue('textarea[name=secret]'), '', 'the key is never sent back');
  await page.fill('textarea[name=secret]', jwtKey);
  await shot('security-jwt');
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /Security definition partner-jwt \(jwt\) created/);
  assert.match(await row('partner-jwt').textContent(), /HS256/);
  assert.ok(!(await page.content()).includes(jwtKey), 'the key is not in the page');

  console.log('all steps passed');
} finally {
  await browser.close();
}
