// The web admin's SOAP channels page, driven in Debian's Chromium by playwright-core, as
// a person uses it. Run by tests/all/web_admin_soap.rs, which starts a server with
// demo.soap-hello deployed and a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, ZATO_SERVER (the server's base URL),
//   SCREENSHOTS (a directory), CHROMIUM.
// Prints each step, and "all steps passed" at the end; any failure exits non-zero.

import assert from 'node:assert/strict';
import { env, open, step } from './common.mjs';

const { browser, page, base, shot, submit, submitRefused, logIn } = await open();
const server = env('ZATO_SERVER').replace(/\/$/, '');
const toList = () => page.waitForURL((url) => url.pathname === '/channels/soap');
const row = (name) => page.locator('table.soap-channels tr', { has: page.locator(`a[href="/channels/soap/${name}"]`) });

try {
  await logIn();

  step('the SOAP channels page, from the nav, has none yet');
  await Promise.all([toList(), page.locator('header nav a[href="/channels/soap"]').click()]);
  assert.match(await page.textContent('main'), /No SOAP channel yet/);

  step('a service that is not deployed is refused next to the services, the form kept');
  await Promise.all([page.waitForURL(/\/channels\/soap\/new$/), page.locator('main a[href="/channels/soap/new"]').click()]);
  await page.fill('input[name=name]', 'greetings');
  await page.fill('input[name=path]', '/soap/greetings');
  await page.fill('textarea[name=services]', 'nobody.here');
  await page.check('input[name=v11]');
  await submitRefused('/channels/soap/new');
  assert.match(await page.locator('p.field-error').textContent(), /service `nobody\.here` is not deployed/);
  assert.equal(await page.inputValue('input[name=path]'), '/soap/greetings', 'the form is kept');
  assert.ok(await page.isChecked('input[name=v11]'), 'the version kept');
  await shot('soap-channel-refused');

  step('created for SOAP 1.1 only; its WSDL answers on the server');
  await page.fill('textarea[name=services]', 'demo.soap-hello');
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /SOAP channel greetings created at \/soap\/greetings/);
  assert.match(await row('greetings').textContent(), /demo\.soap-hello/);
  assert.match(await row('greetings').textContent(), /1\.1/);
  assert.doesNotMatch(await row('greetings').textContent(), /1\.2/);
  const wsdl = await page.request.get(server + '/soap/greetings?wsdl');
  assert.equal(wsdl.status(), 200);
  assert.match(await wsdl.text(), /targetNamespace="urn:zato:soap:greetings"/);

  step('a second channel at the same path is refused next to the path');
  await page.goto(base + '/channels/soap/new');
  await page.fill('input[name=name]', 'twin');
  await page.fill('input[name=path]', '/soap/greetings');
  await page.fill('textarea[name=services]', 'demo.soap-hello');
  await submitRefused('/channels/soap/new');
  assert.match(await page.locator('p.field-error').textContent(), /greetings/);
  assert.equal(await page.inputValue('input[name=name]'), 'twin');

  step('edited: both versions, a namespace of its own');
  await page.goto(base + '/channels/soap/greetings');
  assert.equal(await page.inputValue('textarea[name=services]'), 'demo.soap-hello');
  assert.ok(await page.isChecked('input[name=v11]'));
  assert.ok(!(await page.isChecked('input[name=v12]')));
  await page.check('input[name=v12]');
  await page.fill('input[name=namespace]', 'urn:example:greetings');
  await shot('soap-channel-form');
  await Promise.all([toList(), submit()]);
  assert.match(await page.textContent('main .notice.ok'), /SOAP channel greetings saved/);
  assert.match(await row('greetings').textContent(), /1\.1, 1\.2/);
  const edited = await page.request.get(server + '/soap/greetings?wsdl');
  assert.match(await edited.text(), /targetNamespace="urn:example:greetings"/);
  await shot('soap-channels');

  step('another channel, deleted after a confirmation: its path stops answering');
  await page.goto(base + '/channels/soap/new');
  await page.fill('input[name=name]', 'old');
  await page.fill('input[name=path]', '/soap/old');
  await page.fill('textarea[name=services]', 'demo.soap-hello');
  await Promise.all([toList(), submit()]);
  assert.equal((await page.request.get(server + '/soap/old?wsdl')).status(), 200);
  await Promise.all([page.waitForURL(/\/channels\/soap\/old\/delete$/), row('old').locator('a.danger-link').click()]);
  assert.match(await page.textContent('main'), /Delete SOAP channel old\?/);
  await Promise.all([toList(), page.locator('main form button.danger').click()]);
  assert.match(await page.textContent('main .notice.ok'), /SOAP channel old deleted/);
  assert.equal(await row('old').count(), 0);
  assert.equal((await page.request.get(server + '/soap/old?wsdl')).status(), 404);

  console.log('all steps passed');
} finally {
  await browser.close();
}
