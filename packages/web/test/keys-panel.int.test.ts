/// <reference lib="dom" />
// The callbacks given to page.evaluate run in the browser.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../../services/auth/test/helpers.js';
import { type Stack, startStack } from '../../../services/gateway/test/harness.js';

/** The page's API keys panel in real headless Chromium against a real auth and gateway. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const screenshots = join(root, '.local/test-results/screenshots');
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  await promisify(execFile)(process.execPath, [join(root, 'packages/web/build.mjs')]);
  await mkdir(screenshots, { recursive: true });
  stack = await startStack();
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh tab, logged in as a new user, with every request that leaves the gateway noted. */
async function loggedIn(): Promise<{ page: Page; offsite: string[]; close: () => Promise<void> }> {
  const { email, password } = await addUser(stack.authConfig);
  const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
  const page = await context.newPage();
  const offsite: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(stack.url) && !req.url().startsWith('data:')) offsite.push(req.url());
  });
  await page.goto(`${stack.url}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  return { page, offsite, close: () => context.close() };
}

const jobsWith = (key: string) => fetch(`${stack.url}/jobs`, { headers: { authorization: `Bearer ${key}` } });

describe('the API keys panel', () => {
  it('when a user makes a key with a name that looks like markup, then it shows once as text, works, and is revoked in two clicks', async () => {
    const { page, offsite, close } = await loggedIn();
    try {
      await page.getByText('API keys', { exact: true }).click();
      await page.getByLabel('Name').fill('<img src=x onerror="document.title=1">');
      await page.getByLabel('delete').check();
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = page.locator('#key-secret');
      await secret.waitFor({ state: 'visible' });
      const key = await secret.inputValue();
      expect(key).toMatch(/^mp3c_[0-9a-z]{16}_[0-9A-Za-z]{40}$/);
      const row = page.locator('#keys li');
      await expect.poll(() => row.count()).toBe(1);
      expect(await row.locator('.name').textContent()).toBe('<img src=x onerror="document.title=1">');
      expect(await row.locator('img').count()).toBe(0);
      expect(await row.locator('.state').textContent()).toMatch(/^upload, read, delete · created .* · never expires · never used$/);
      await page.screenshot({ path: join(screenshots, 'keys.png'), fullPage: true });
      expect((await jobsWith(key)).status).toBe(200);

      const revoke = row.getByRole('button', { name: /Revoke the key/ });
      await revoke.click();
      expect(await revoke.textContent()).toBe('Revoke: sure?');
      expect((await jobsWith(key)).status).toBe(200);
      await revoke.click();
      await expect.poll(() => row.count()).toBe(0);
      // The key shown once was the one revoked: it is not left on the page.
      expect(await secret.isVisible()).toBe(false);
      expect((await jobsWith(key)).status).toBe(403);
      expect(offsite).toEqual([]);
    } finally {
      await close();
    }
  });

  it('when the form is wrong, then the page says why and makes no key', async () => {
    const { page, close } = await loggedIn();
    try {
      await page.getByText('API keys', { exact: true }).click();
      await page.getByRole('button', { name: 'Create key' }).click();
      expect(await page.locator('#key-error').textContent()).toBe('The name must not be empty.');
      await page.getByLabel('Name').fill('ci');
      for (const scope of ['upload', 'read']) await page.getByLabel(scope, { exact: true }).uncheck();
      await page.getByRole('button', { name: 'Create key' }).click();
      expect(await page.locator('#key-error').textContent()).toBe('Choose at least one scope.');
      // A date the gateway refuses (in the past): its reason is shown.
      await page.getByLabel('read', { exact: true }).check();
      await page.getByLabel('Expires (optional)').fill('2001-01-01');
      await page.getByRole('button', { name: 'Create key' }).click();
      await expect.poll(() => page.locator('#key-error').textContent()).toMatch(/expires_at must be at least a minute from now/);
      expect(await page.locator('#keys li').count()).toBe(0);
    } finally {
      await close();
    }
  });

  it('when a user logs out, then the next user at the browser sees none of their keys', async () => {
    const { page, close } = await loggedIn();
    try {
      await page.getByText('API keys', { exact: true }).click();
      await page.getByLabel('Name').fill('mine');
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.locator('#key-secret').waitFor({ state: 'visible' });
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.locator('#login-view').waitFor({ state: 'visible' });
      expect(await page.locator('#keys li').count()).toBe(0);
      expect(await page.locator('#key-secret').inputValue()).toBe('');
      const other = await addUser(stack.authConfig);
      await page.getByLabel('Email').fill(other.email);
      await page.getByLabel('Password').fill(other.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByText('API keys', { exact: true }).click();
      await expect.poll(() => page.evaluate(() => document.querySelector('#keys')?.getAttribute('data-limit'))).toBe('20');
      expect(await page.locator('#keys li').count()).toBe(0);
    } finally {
      await close();
    }
  });
});
