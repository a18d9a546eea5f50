// The web admin's rate-limits page, its admin users page, and the client-certificate
// form of the security page, driven in Debian's Chromium by playwright-core, as a person uses them. Run by
// tests/all/web_admin_security.rs, which starts a server (with an HTTP channel
// `orders`) and a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, CA_PEM (a CA certificate),
//   OPS_PASSWORD, OPS_NEW_PASSWORD (an admin user's first and second passwords),
//   SCREENSHOTS (a directory), CHROMIUM.
// Prints each step, and "all steps passed" at the end; any failure exits non-zero.

import assert from 'node:assert/strict';
import { env, open, step } from './common.mjs';

const { browser, page, base, shot, submit, submitRefused, logIn } = await open();
const toList = () => page.waitForURL((url) => url.pathname === '/rate-limits');
const row = (name) => page.locator('table.rate-limits tr', { has: page.locator(`a[href="/rate-limits/${name}"]`) });

try {
  await logIn();

  step('a client-certificate definition through its form: an empty subject refused first');
  await page.goto(base + '/security/new/tls');
  await page.fill('input[name=name]', 'partner-cert');
  await page.fill('textarea[name=ca_pem]', env('CA_PEM'));
  await page.fill('input[name=subject]', 'EMAIL=x');
  await submitRefused('/security/new/tls');
  assert.match(await page.locator('p.field-error').textContent(), /unknown subject field `EMAIL`/);
  assert.equal(await page.inputValue('input[name=name]'), 'partner-cert', 'the form is kept');
  await page.fill('input[name=subject]', 'CN=partner, O=ACME');
  await shot('security-tls');
  await Promise.all([page.waitForURL((url) => url.pathname === '/security'), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /partner-cert \(tls\) created/);
  const certRow = page.locator('table.security tr', { has: page.locator('a[href="/security/partner-cert"]') });
  assert.match(await certRow.textContent(), /CN=partner, O=ACME/);

  step('the Rate limits page, from the nav, has none yet');
  await Promise.all([toList(), page.locator('header nav a[href="/rate-limits"]').click()]);
  assert.match(await page.textContent('main'), /No rate limit yet/);

  step('a line that is not `source = limit` is refused, naming its line');
  await Promise.all([page.waitForURL(/\/rate-limits\/new$/), page.locator('main a[href="/rate-limits/new"]').click()]);
  await page.fill('input[name=name]', 'partners');
  await page.fill('textarea[name=rules]', '* = 100/m\n10.0.0.0/8 = lots');
  await submitRefused('/rate-limits/new');
  assert.match(await page.locator('p.field-error').textContent(), /line 2/);
  assert.equal(await page.inputValue('input[name=name]'), 'partners');

  step('created with IPv4 and IPv6 lines, counted cluster-wide');
  await page.fill('textarea[name=rules]', '* = 100/m\n10.0.0.0/8 = unlimited\n2001:db8::/32 = 5/s');
  await page.check('input[name=exact]');
  await shot('rate-limit-form');
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /Rate limit partners created/);
  assert.match(await row('partners').textContent(), /cluster-wide/);
  assert.match(await row('partners').textContent(), /2001:db8::\/32 = 5\/s/);

  step('attached to the HTTP channel orders and to the security definition');
  for (const [kind, object] of [['http-channel', 'orders'], ['security', 'partner-cert']]) {
    await page.selectOption('select[name=rate_limit]', 'partners');
    await page.selectOption('select[name=kind]', kind);
    await page.fill('input[name=object]', object);
    await Promise.all([toList(), page.locator('form[action="/rate-limits/attach"] button[type=submit]').click()]);
    assert.match(await page.textContent('main .notice.ok'), new RegExp(`attached to .* ${object}`));
  }
  assert.match(await row('partners').textContent(), /HTTP channel orders/);
  assert.match(await row('partners').textContent(), /security definition partner-cert/);
  await shot('rate-limits');

  step('a channel that does not exist is refused, and the page says so');
  await page.selectOption('select[name=rate_limit]', 'partners');
  await page.selectOption('select[name=kind]', 'soap-channel');
  await page.fill('input[name=object]', 'nowhere');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/rate-limits/attach')),
    page.locator('form[action="/rate-limits/attach"] button[type=submit]').click(),
  ]);
  await page.waitForLoadState('load');
  assert.match(await page.textContent('main .notice.error'), /no SOAP channel named `nowhere`/);

  step('in use: not deleted, and the page says by what');
  await page.goto(base + '/rate-limits/partners/delete');
  await page.locator('main form button.danger').click();
  await page.waitForLoadState('load');
  assert.match(await page.textContent('main'), /HTTP channel `orders`/);

  step('edited: the lines replaced, per server now');
  await page.goto(base + '/rate-limits/partners');
  assert.match(await page.inputValue('textarea[name=rules]'), /10\.0\.0\.0\/8 = unlimited/);
  await page.fill('textarea[name=rules]', '* = 50/m');
  await page.uncheck('input[name=exact]');
  await Promise.all([toList(), submit()]);
  assert.match(await row('partners').textContent(), /per server/);
  assert.match(await row('partners').textContent(), /\* = 50\/m/);

  step('detached from both, then deleted');
  for (const [kind, object] of [['http-channel', 'orders'], ['security', 'partner-cert']]) {
    await page.selectOption('select[name=rate_limit]', '');
    await page.selectOption('select[name=kind]', kind);
    await page.fill('input[name=object]', object);
    await Promise.all([toList(), page.locator('form[action="/rate-limits/attach"] button[type=submit]').click()]);
    assert.match(await page.textContent('main .notice.ok'), /has no rate limit of its own now/);
  }
  await page.goto(base + '/rate-limits/partners/delete');
  await Promise.all([toList(), page.locator('main form button.danger').click()]);
  assert.match(await page.textContent('main .notice.ok'), /Rate limit partners deleted/);
  assert.equal(await row('partners').count(), 0);

  step('the Users page lists the configuration\'s admin, which it cannot change');
  await Promise.all([page.waitForURL((url) => url.pathname === '/users'),
    page.locator('header nav a[href="/users"]').click()]);
  const userRow = (name) => page.locator(`table.users tr[data-user="${name}"]`);
  assert.match(await userRow(env('ZATO_USER')).textContent(), /server\.toml/);
  assert.equal(await userRow(env('ZATO_USER')).locator('form').count(), 0);

  step('a short password is refused naming the shortest; then ops and tmp are made');
  const create = page.locator('form[action="/users"]');
  await create.locator('input[name=username]').fill('ops');
  await create.locator('input[name=password]').fill('short');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/users')),
    create.locator('button[type=submit]').click(),
  ]);
  await page.waitForLoadState('load');
  assert.match(await page.locator('p.field-error').textContent(), /at least 12/);
  assert.equal(await create.locator('input[name=username]').inputValue(), 'ops', 'kept');
  assert.equal(await create.locator('input[name=password]').inputValue(), '', 'never sent back');
  for (const [name, password] of [['ops', env('OPS_PASSWORD')], ['tmp', 'a temporary password']]) {
    await create.locator('input[name=username]').fill(name);
    await create.locator('input[name=password]').fill(password);
    await Promise.all([page.waitForURL(/\/users\?done=/), create.locator('button[type=submit]').click()]);
    assert.match(await page.textContent('main .notice.ok'), new RegExp(`Admin user ${name} created`));
  }
  assert.ok(!(await page.content()).includes(env('OPS_PASSWORD')), 'no password in the page');

  step('ops\'s password changed from its row');
  await userRow('ops').locator('input[name=password]').fill(env('OPS_NEW_PASSWORD'));
  await Promise.all([page.waitForURL(/\/users\?done=/), userRow('ops').locator('button[type=submit]').click()]);
  assert.match(await page.textContent('main .notice.ok'), /The password of ops changed/);
  await shot('users');

  step('tmp deleted after a confirmation');
  await page.goto(base + '/users/tmp/delete');
  await Promise.all([page.waitForURL(/\/users\?done=/), page.locator('main form button.danger').click()]);
  assert.match(await page.textContent('main .notice.ok'), /Admin user tmp deleted/);
  assert.equal(await userRow('tmp').count(), 0);

  console.log('all steps passed');
} finally {
  await browser.close();
}
