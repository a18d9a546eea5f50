// The web admin driven in Debian's Chromium by playwright-core, as a person uses it.
// Run by tests/all/web_admin_browser.rs, which starts a 2-server cluster and passes:
//   WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, ZATO_SERVERS (the servers' base URLs,
//   comma-separated), HELLO_WASM, BROKEN_WASM, SCREENSHOTS (a directory), CHROMIUM.
// Prints each step, and "all steps passed" at the end; any failure exits non-zero.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set`);
  return value;
};
const base = env('WEB_ADMIN_URL').replace(/\/$/, '');
const user = env('ZATO_USER');
const password = env('ZATO_PASSWORD');
const servers = env('ZATO_SERVERS').split(',');
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

/** Waits until `check` returns a truthy value, or fails naming `what`. */
async function eventually(what, check, ms = 30000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${last})`);
}

/** What every server answers on `path`, asked with curl. */
async function everyServer(path) {
  return Promise.all(servers.map(async (server) => {
    const { stdout } = await promisify(execFile)('curl', ['-s', '-w', '\n%{http_code}', server + path]);
    const at = stdout.lastIndexOf('\n');
    return { server, status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
  }));
}

/** The versions of `service` each server runs, from the cluster's admin API. */
async function runningVersions(service) {
  const response = await fetch(servers[0] + '/zato/api/servers', { headers: { authorization: basicAuth } });
  const list = await response.json();
  return list.filter((s) => s.state === 'running').map((s) => s.services[service]);
}

async function login(name, secret) {
  await page.goto(base + '/login');
  await page.fill('input[name=username]', name);
  await page.fill('input[name=password]', secret);
  await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/login"] [type=submit]').click()]);
}

try {
  step('a page asked for without a session goes to the login form');
  await page.goto(base + '/');
  assert.ok(page.url().includes('/login'), page.url());
  await shot('login');

  step('a wrong password is refused');
  await login(user, 'not-' + password);
  assert.ok(page.url().includes('/login'), page.url());
  assert.match(await page.textContent('body'), /wrong|refused|invalid|incorrect/i);

  step('a form posted without its CSRF token is refused');
  const noToken = await context.request.post(base + '/login', {
    form: { username: user, password },
    maxRedirects: 0,
  });
  assert.equal(noToken.status(), 403, await noToken.text());

  step('the right password opens the dashboard with both servers');
  await login(user, password);
  assert.ok(!page.url().includes('/login'), page.url());
  const dashboard = await page.textContent('body');
  assert.match(dashboard, /server1/);
  assert.match(dashboard, /server2/);
  await eventually('the dashboard shows the load balancer with both servers up', async () => {
    await page.reload();
    const lb = await page.locator('h2:text("Load balancer") + p + table').textContent();
    return (lb.match(/\bup\b/g) || []).length === 2;
  });
  await shot('dashboard');

  step('a logged-in form posted without its CSRF token is refused too');
  const upload = await context.request.post(base + '/services/upload', {
    multipart: { file: { name: 'x.wasm', mimeType: 'application/wasm', buffer: Buffer.from('x') } },
    maxRedirects: 0,
  });
  assert.equal(upload.status(), 403, await upload.text());

  step('upload demo.hello and see every server run it');
  await page.goto(base + '/services/upload');
  await shot('upload');
  await page.setInputFiles('input[type=file][name=file]', env('HELLO_WASM'));
  await Promise.all([page.waitForLoadState('load'), page.locator('form[enctype="multipart/form-data"] [type=submit]').click()]);
  await eventually('the progress page says every server runs it', async () =>
    /runs on every running server/i.test(await page.textContent('body')));
  const versions = await runningVersions('demo.hello');
  assert.equal(versions.length, 2, JSON.stringify(versions));
  assert.ok(versions.every((v) => v === versions[0] && v >= 1), JSON.stringify(versions));
  await shot('upload-progress');

  step('the services list and the service page show it');
  await page.goto(base + '/services?q=hello');
  assert.match(await page.textContent('body'), /demo\.hello/);
  await shot('services');
  await page.goto(base + '/services/demo.hello');
  assert.match(await page.textContent('body'), /demo\.hello/);
  await shot('service');

  step('invoke it and read its answer');
  await page.goto(base + '/services/demo.hello/invoke');
  await page.fill('textarea[name=payload]', '{"name": "browser"}');
  await page.locator('main form.stacked button[type=submit]').click();
  await eventually('the answer is shown', async () =>
    (await page.textContent('body')).includes('Hello, browser!'));
  await shot('invoke');

  step('create an HTTP channel and call it on every server');
  await page.goto(base + '/channels/http/new');
  await page.fill('input[name=name]', 'hello-browser');
  await page.fill('input[name=path]', '/browser/hello');
  await page.fill('input[name=service]', 'demo.hello');
  await shot('channel-form');
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith('/new')),
    page.locator('main form.stacked button[type=submit]').click()]);
  await page.goto(base + '/channels/http');
  assert.match(await page.textContent('body'), /\/browser\/hello/);
  await shot('channels');
  await eventually('every server answers the channel', async () => {
    const answers = await everyServer('/browser/hello?name=curl');
    return answers.every((a) => a.status === 200 && a.body.includes('Hello, curl!'));
  });

  step('a broken upload is refused and the old version keeps serving');
  await page.goto(base + '/services/upload');
  await page.setInputFiles('input[type=file][name=file]', env('BROKEN_WASM'));
  await Promise.all([page.waitForLoadState('load'), page.locator('form[enctype="multipart/form-data"] [type=submit]').click()]);
  assert.match(await page.textContent('body'), /not a (valid )?(WebAssembly )?component|refused|invalid/i);
  await shot('upload-refused');
  const after = await everyServer('/browser/hello?name=still');
  assert.ok(after.every((a) => a.status === 200 && a.body.includes('Hello, still!')), JSON.stringify(after));
  assert.deepEqual(await runningVersions('demo.hello'), versions);

  step('schedule demo.hello every second from the Scheduler page');
  await Promise.all([page.waitForURL((url) => url.pathname === '/scheduler'),
    page.locator('header nav a[href="/scheduler"]').click()]);
  assert.match(await page.textContent('main'), /singleton/i);
  await Promise.all([page.waitForURL(/\/scheduler\/new-job$/),
    page.locator('main a[href="/scheduler/new-job"]').first().click()]);
  await page.fill('input[name=name]', 'browser-tick');
  await page.fill('input[name=service]', 'demo.hello');
  await page.check('#kind-interval');
  assert.ok(!(await page.locator('input[name=expression]').isVisible()), 'only the chosen kind\'s fields show');
  await page.fill('input[name=seconds]', '1');
  await page.fill('textarea[name=payload]', '{"name": "scheduler"}');
  await page.locator('button[name=op][value=preview]').click();
  await eventually('the preview lists the next 10 fire times in place', async () =>
    (await page.locator('#preview ol.times li').count()) === 10);
  assert.ok(page.url().endsWith('/scheduler/new-job'), 'the preview did not leave the form: ' + page.url());
  assert.equal(await page.inputValue('input[name=name]'), 'browser-tick');
  await shot('scheduler-form');
  await Promise.all([page.waitForURL((url) => url.pathname === '/scheduler'),
    page.locator('button[name=op][value=save]').click()]);
  const jobs = await page.locator('table.jobs').textContent();
  assert.match(jobs, /browser-tick/);
  assert.match(jobs, /every 1 s/);

  step('open the job and see it run');
  await Promise.all([page.waitForURL(/\/scheduler\/jobs\/browser-tick$/),
    page.locator('table.jobs a[href="/scheduler/jobs/browser-tick"]').click()]);
  await eventually('a run of browser-tick ended ok', async () => {
    await page.reload();
    return (await page.locator('#runs table.runs span.status.ok').count()) > 0;
  }, 60000);
  const okRun = await page.locator('#runs table.runs tbody tr', { has: page.locator('span.status.ok') })
    .first().textContent();
  assert.match(okRun, /server[12]/, 'the server that ran it: ' + okRun);
  await shot('scheduler-job');

  step('pause it, then delete it');
  await Promise.all([page.waitForURL(/\/scheduler\/jobs\/browser-tick\?done=/),
    page.locator('main form[action$="/browser-tick/pause"] button').click()]);
  assert.match(await page.textContent('main'), /paused/);
  const paused = await fetch(servers[0] + '/zato/api/scheduler/jobs/browser-tick', { headers: { authorization: basicAuth } });
  assert.equal((await paused.json()).job.active, false);
  await page.goto(base + '/scheduler');
  await shot('scheduler');
  await Promise.all([page.waitForURL(/\/delete$/),
    page.locator('table.jobs a[href="/scheduler/jobs/browser-tick/delete"]').click()]);
  await Promise.all([page.waitForURL((url) => url.pathname === '/scheduler'),
    page.locator('main form button.danger').click()]);
  assert.match(await page.textContent('main'), /Job browser-tick deleted/);
  assert.doesNotMatch(await page.locator('table.jobs').textContent(), /browser-tick/);

  step('create an outgoing HTTP connection to a local backend, ping it, delete it');
  const backend = http.createServer((req, res) => { res.writeHead(204); res.end(); });
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  const backendUrl = `http://127.0.0.1:${backend.address().port}/api`;
  await Promise.all([page.waitForURL((url) => url.pathname === '/outconns'),
    page.locator('header nav a[href="/outconns"]').click()]);
  assert.match(await page.textContent('main'), /No outgoing connection yet/);
  await Promise.all([page.waitForURL(/\/outconns\/new\/http$/),
    page.locator('main a[href="/outconns/new/http"]').click()]);
  await page.fill('input[name=name]', 'browser-crm');
  await page.fill('input[name=address]', backendUrl);
  await page.selectOption('select[name=auth]', 'bearer');
  await page.fill('input[name=secret]', 'browser-secret');
  await shot('outconn-form');
  await Promise.all([page.waitForURL((url) => url.pathname === '/outconns'),
    page.locator('main form.stacked button[type=submit]').click()]);
  assert.match(await page.textContent('main'), /Connection browser-crm \(http\) created/);
  const stored = await fetch(servers[1] + '/zato/api/outconns/http/browser-crm', { headers: { authorization: basicAuth } });
  const storedText = await stored.text();
  assert.equal(JSON.parse(storedText).secret_set, true);
  assert.ok(!storedText.includes('browser-secret'), 'the secret never comes back');
  await Promise.all([page.waitForURL((url) => url.pathname === '/outconns'),
    page.locator('main form[action="/outconns/http/browser-crm/ping"] button').click()]);
  assert.match(await page.textContent('main'), /Ping of browser-crm \(http\): answered in \d+ ms: HTTP 204/);
  await shot('outconns');
  await Promise.all([page.waitForURL(/\/delete$/),
    page.locator('main a[href="/outconns/http/browser-crm/delete"]').click()]);
  await Promise.all([page.waitForURL((url) => url.pathname === '/outconns'),
    page.locator('main form button.danger').click()]);
  assert.match(await page.textContent('main'), /Connection browser-crm \(http\) deleted/);
  backend.close();

  step('the settings page');
  await page.goto(base + '/settings');
  await shot('settings');

  step('log out');
  await page.locator('form[action="/logout"] [type=submit]').click();
  await page.waitForURL(/\/login/);
  await page.goto(base + '/services');
  assert.ok(page.url().includes('/login'), page.url());

  console.log('all steps passed');
} finally {
  await browser.close();
}
