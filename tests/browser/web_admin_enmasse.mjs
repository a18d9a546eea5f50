// The web admin's Enmasse page, driven in Debian's Chromium by playwright-core, as a
// person uses it. Run by tests/all/web_admin_enmasse.rs, which starts a server with
// demo.hello deployed and a web admin for it, and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, ZATO_SERVER (the server's base URL),
//   SCREENSHOTS (a directory), CHROMIUM.
// Prints each step, and "all steps passed" at the end; any failure exits non-zero.

import assert from 'node:assert/strict';
import { env, open, step } from './common.mjs';

const { browser, page, base, shot, logIn } = await open();
const server = env('ZATO_SERVER').replace(/\/$/, '');
const admin = 'Basic ' + Buffer.from(`${env('ZATO_USER')}:${env('ZATO_PASSWORD')}`).toString('base64');

/** The server's HTTP channels, from its admin API. */
async function channels() {
  const response = await fetch(`${server}/zato/api/channels/http`, { headers: { authorization: admin } });
  assert.equal(response.status, 200);
  return response.json();
}

/** Pastes `document` and presses `button` (preview or import); waits for the page. */
async function send(document, button) {
  await page.fill('#import textarea[name=document]', document);
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/enmasse/import')),
    page.locator(`#import button[value=${button}]`).click(),
  ]);
  await page.waitForLoadState('load');
}

const good = `zato_enmasse: 1
security:
- name: partner
  settings: {type: basic-auth, username: acme}
  secret: s3cret pass
http_channels:
- name: hello
  path: /hello
  service: demo.hello
  security: partner
`;

try {
  await logIn();

  step('the Enmasse page, from the nav; its export holds the deployed service by sha256');
  await Promise.all([page.waitForURL((url) => url.pathname === '/enmasse'),
    page.locator('header nav a[href="/enmasse"]').click()]);
  const exported = await page.request.get(base + '/enmasse/export?format=yaml');
  assert.equal(exported.status(), 200);
  assert.match(exported.headers()['content-disposition'], /enmasse\.yaml/);
  const yaml = await exported.text();
  assert.match(yaml, /^zato_enmasse: 1$/m);
  assert.match(yaml, /name: demo\.hello\n\s+sha256: [0-9a-f]{64}\n\s+file: services\/demo\.hello\.wasm/);

  step('a document naming a missing service and an unset secret is refused whole; nothing changes');
  await send(good.replace('service: demo.hello', 'service: demo.missing')
    .replace('secret: s3cret pass', 'secret: ${ZATO_SECRET_SECURITY_PARTNER}'), 'import');
  const refused = await page.textContent('main');
  assert.match(refused, /Nothing was changed: the document has 2 problems/);
  assert.match(refused, /HTTP channel `hello` names service `demo\.missing`/);
  assert.match(refused, /ZATO_SECRET_SECURITY_PARTNER/);
  assert.deepEqual(await channels(), []);
  await shot('enmasse-refused');

  step('the preview shows what would be created, and changes nothing');
  await send(good, 'preview');
  assert.match(await page.textContent('main .notice.ok'), /would create 2, update 0 and leave 0 unchanged/);
  assert.match(await page.textContent('#plan'), /create\s*security\s*partner/);
  assert.match(await page.textContent('#plan'), /create\s*http-channel\s*hello/);
  assert.deepEqual(await channels(), []);

  step('the import creates both; the channel admits the partner alone');
  await send(good, 'import');
  assert.match(await page.textContent('main .notice.ok'), /Imported: created 2, updated 0, left 0 unchanged/);
  const created = await channels();
  assert.equal(created.length, 1);
  assert.equal(created[0].security, 'partner');
  const hello = `${server}/hello?name=Ada`;
  assert.equal((await fetch(hello)).status, 401);
  const acme = 'Basic ' + Buffer.from('acme:s3cret pass').toString('base64');
  const answer = await fetch(hello, { headers: { authorization: acme } });
  assert.equal(answer.status, 200);
  assert.match(JSON.stringify(await answer.json()), /Ada/);
  assert.equal(await page.inputValue('#import textarea[name=document]'), '',
    'the imported document, with its secret, is not shown again');
  await shot('enmasse');

  step('imported again, nothing changes');
  await send(good, 'import');
  assert.match(await page.textContent('main .notice.ok'), /created 0, updated 0, left 2 unchanged/);

  console.log('all steps passed');
} finally {
  await browser.close();
}
