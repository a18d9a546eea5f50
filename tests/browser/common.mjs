// What the web admin's browser tests share: their settings from the environment, Debian's
// Chromium driven by playwright-core (never a browser download), and the steps every
// script takes (log in, submit the page's form, wait for a refusal, take a screenshot).
// A script passes WEB_ADMIN_URL, ZATO_USER, ZATO_PASSWORD, SCREENSHOTS and CHROMIUM.

import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

/** The environment variable `name`, which must be set. */
export const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set`);
  return value;
};

/** Prints a step of the script, so that a failure shows how far it got. */
export const step = (text) => console.log(`- ${text}`);

/**
 * Chromium with one page (1366x900, 20 s for every wait), and the helpers bound to it.
 * The caller closes `browser` in a `finally`.
 */
export async function open() {
  const browser = await chromium.launch({
    executablePath: env('CHROMIUM'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update'],
  });
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  page.setDefaultTimeout(20000);
  const base = env('WEB_ADMIN_URL').replace(/\/$/, '');
  const shots = env('SCREENSHOTS');
  /** A full-page screenshot, `SCREENSHOTS/name.png`. */
  const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  /** Submits the page's main form. */
  const submit = () => page.locator('main form.stacked button[type=submit]').first().click();
  /** Submits the main form and waits for the page that refuses it (posted to `path`). */
  const submitRefused = async (path) => {
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(path)),
      submit(),
    ]);
    await page.waitForLoadState('load');
  };
  /** Logs in as ZATO_USER. */
  const logIn = async () => {
    step('log in');
    await page.goto(base + '/login');
    await page.fill('input[name=username]', env('ZATO_USER'));
    await page.fill('input[name=password]', env('ZATO_PASSWORD'));
    await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')),
      page.locator('form[action="/login"] [type=submit]').click()]);
  };
  return { browser, page, base, shot, submit, submitRefused, logIn };
}
