/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The callbacks given to page.evaluate run in the browser.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeVideo, probe, readGridFsFile, uniqueName } from '@mp3converter/shared/testing';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../../services/auth/test/helpers.js';
import { ffmetadataLines } from '../../../services/converter/src/adapters/ffmpeg-args.js';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../../services/converter/test/harness.js';
import { type Stack, startStack } from '../../../services/gateway/test/harness.js';

/**
 * The page in real headless Chromium against a real auth, gateway and converter: what a user does, as a
 * user does it. Screenshots of the main states go to .local/test-results/screenshots.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const screenshots = join(root, '.local/test-results/screenshots');
const run = promisify(execFile);

let stack: Stack;
let queues: Queues;
let converter: Worker;
let browser: Browser;
const media: Record<'short' | 'long' | 'silent' | 'brief' | 'book', { path: string; data: Buffer }> = {} as never;
/** The book's chapters: one titled like markup, one like a path, one with none (the converter calls it "Chapter 3"). */
const CHAPTERS = ['<img src=x onerror="document.title=1">', '../../etc/passwd', ''];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  // The page as the gateway serves it in production: built by its own build.
  await run(process.execPath, [join(root, 'packages/web/build.mjs')]);
  await mkdir(screenshots, { recursive: true });
  const made = await Promise.all([
    // Over two of the page's 8 MiB chunks (its sound uncompressed), so an upload can stop between them.
    pcmVideo(90),
    // 20 minutes of sound: seconds to convert, long enough to watch and to cancel.
    makeVideo({ seconds: 1200, fps: 1, width: 64, height: 48 }),
    makeVideo({ seconds: 3, audio: false }),
    makeVideo({ seconds: 2 }),
    makeVideo({
      seconds: 6,
      container: 'mkv',
      metadata: `;FFMETADATA1\n${ffmetadataLines({ artist: 'The Reader' })}${CHAPTERS.map(
        (title, i) => `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${i * 2000}\nEND=${(i + 1) * 2000}\n${title ? ffmetadataLines({ title }) : ''}`,
      ).join('')}`,
    }),
  ]);
  for (const [key, m] of (['short', 'long', 'silent', 'brief', 'book'] as const).map((k, i) => [k, made[i]!] as const)) {
    cleanups.push(m.cleanup);
    media[key] = { path: m.path, data: await readFile(m.path) };
  }
  stack = await startStack({ QUEUE_POSITION_INTERVAL_MS: '200' });
  queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  // ffmpeg held to 40× realtime: the 20-minute video converts for 30 s, a window no busy machine can miss.
  converter = await startWorker(queues, { PROGRESS_SNAPSHOT_MS: '300', FFMPEG_PATH: await pacedFfmpeg(40, cleanups) });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await converter?.worker.stop(1_000);
  await stack?.stop();
  if (queues) await cleanupQueues(queues);
  for (const c of cleanups) await c();
});

/** A fresh tab (own storage unless a context is given), failing the test on any request off the gateway. */
async function open(context?: BrowserContext): Promise<{ page: Page; context: BrowserContext; offsite: string[] }> {
  const ctx = context ?? (await browser.newContext({ viewport: { width: 420, height: 900 }, acceptDownloads: true }));
  const page = await ctx.newPage();
  const offsite: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(stack.url) && !req.url().startsWith('data:') && !req.url().startsWith('blob:')) offsite.push(req.url());
  });
  await page.goto(`${stack.url}/`);
  return { page, context: ctx, offsite };
}

async function logIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** A new user, logged in on a fresh tab that shows the app. */
async function loggedIn(): Promise<Awaited<ReturnType<typeof open>> & { user: { email: string; password: string } }> {
  const user = await addUser(stack.authConfig);
  const tab = await open();
  await logIn(tab.page, user.email, user.password);
  await tab.page.locator('#app-view').waitFor({ state: 'visible' });
  return { ...tab, user };
}

/** The job as the API shows it to the page's user. */
async function jobView(page: Page, fid: string): Promise<{ options: object; mp3_fid: string }> {
  return (await fetch(`${stack.url}/jobs/${fid}`, { headers: { authorization: `Bearer ${await token(page)}` } })).json() as Promise<{
    options: object;
    mp3_fid: string;
  }>;
}

/** Drops a file on the drop zone as a desktop would: a DataTransfer holding a File. */
async function dropFile(page: Page, name: string, data: Buffer): Promise<void> {
  const transfer = await page.evaluateHandle(
    ({ base64, name }) => {
      const binary = atob(base64);
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: name.endsWith('.mkv') ? 'video/x-matroska' : 'video/mp4', lastModified: 1_700_000_000_000 }));
      return dt;
    },
    { base64: data.toString('base64'), name },
  );
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
}

/** A video whose sound is uncompressed PCM: 90 s is some 16 MiB, made in a moment. */
async function pcmVideo(seconds: number): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mp3c-page-'));
  const path = join(dir, 'video.mkv');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=160x120:rate=5:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`, '-ac', '2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'pcm_s16le', '-shortest', '-y', path],
  ]);
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An ffmpeg that reads its input at `speed` × realtime (its own -readrate), in a folder `cleanups` removes. */
async function pacedFfmpeg(speed: number, cleanups: (() => Promise<void>)[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mp3c-paced-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'ffmpeg');
  await writeFile(path, `#!/bin/sh\nexec ffmpeg -readrate ${speed} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

/** Slows the tab's uploads, so that there is time to act between two chunks. */
async function throttle(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
}

/** The first chunk is in: the server answered a PATCH. */
const chunkStored = (page: Page) => page.waitForResponse((res) => res.request().method() === 'PATCH' && res.status() === 204, { timeout: 60_000 });

/** What the server holds of an upload: its offset and length, as tus HEAD tells the owner. */
async function held(uploadUrl: string, authorization: string): Promise<{ offset: number; length: number }> {
  const res = await fetch(uploadUrl, { method: 'HEAD', headers: { authorization, 'tus-resumable': '1.0.0' } });
  return { offset: Number(res.headers.get('upload-offset')), length: Number(res.headers.get('upload-length')) };
}

const job = (page: Page, filename: string) => page.locator('#jobs li', { hasText: filename });
const shot = (page: Page, name: string) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

describe('the web page', () => {
  it('when nobody has logged in, then the login screen offers no Log out button, and none is back after logging out', async () => {
    const user = await addUser(stack.authConfig);
    const { page, context } = await open();
    try {
      await page.locator('#login-view').waitFor({ state: 'visible' });
      const logOut = page.getByRole('button', { name: 'Log out' });
      expect(await logOut.isVisible()).toBe(false);
      expect(await page.locator('#session').isVisible()).toBe(false);
      await logIn(page, user.email, user.password);
      await page.locator('#app-view').waitFor({ state: 'visible' });
      expect(await logOut.isVisible()).toBe(true);
      await logOut.click();
      await page.locator('#login-view').waitFor({ state: 'visible' });
      expect(await logOut.isVisible()).toBe(false);
    } finally {
      await context.close();
    }
  });

  it('when the password is wrong, then the page says so and stays on the login form', async () => {
    const { email } = await addUser(stack.authConfig);
    const { page, context, offsite } = await open();
    try {
      await shot(page, 'login');
      await logIn(page, email, 'not-the-password');
      await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 15_000 }).toMatch(/\S/);
      expect(await page.locator('#login-view').isVisible()).toBe(true);
      expect(await page.locator('#app-view').isVisible()).toBe(false);
      await shot(page, 'login-refused');
      expect(offsite).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('when a user has only a keyboard, then login, logout and the file picker are all reachable, and every control is labelled', async () => {
    const user = await addUser(stack.authConfig);
    const { page, context } = await open();
    try {
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('email');
      await page.keyboard.type(user.email);
      await page.keyboard.press('Tab');
      await page.keyboard.type(user.password);
      await page.keyboard.press('Enter');
      await page.locator('#app-view').waitFor({ state: 'visible' });
      // Focus goes to the page's heading, then Tab reaches the file picker.
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('convert-title');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('files');
      // Every form control has a name a screen reader reads out.
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, button')]
          .filter((e) => !(e as HTMLElement).closest('[hidden]'))
          .filter((e) => !(e.getAttribute('aria-label') || (e as HTMLInputElement).labels?.length || e.textContent?.trim()))
          .map((e) => e.outerHTML),
      );
      expect(unnamed).toEqual([]);
      await page.getByRole('button', { name: 'Log out' }).focus();
      await page.keyboard.press('Enter');
      await page.locator('#login-view').waitFor({ state: 'visible' });
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('email');
    } finally {
      await context.close();
    }
  });

  it('when a user drops a video, then it uploads with progress and pause, converts, plays for its length and downloads the MP3', async () => {
    const { page, context, offsite, user } = await loggedIn();
    try {
      await expect.poll(() => page.locator('#session-user').textContent()).toBe(user.email);

      // A slow line, so the upload is seen on its way and paused between two chunks.
      await throttle(page, 2 * 1024 ** 2);
      const first = chunkStored(page);
      await dropFile(page, 'lecture.mkv', media.short.data);
      const row = page.locator('#uploads li', { hasText: 'lecture.mkv' });
      await expect.poll(() => row.locator('.state').textContent(), { timeout: 30_000 }).toMatch(/uploading [1-9]\d?%/);
      await shot(page, 'uploading');
      const uploadUrl = (await first).url();
      await row.getByRole('button', { name: 'Pause' }).click();
      await expect.poll(() => row.locator('.state').textContent()).toMatch(/paused at \d+%/);
      const paused = await held(uploadUrl, `Bearer ${await token(page)}`);
      expect(paused.offset).toBeGreaterThan(0);
      expect(paused.offset).toBeLessThan(paused.length);

      await throttle(page, -1);
      const resumed = page.waitForRequest((req) => req.method() === 'PATCH');
      await row.getByRole('button', { name: 'Resume' }).click();
      expect(Number((await resumed).headers()['upload-offset'])).toBe(paused.offset);

      const done = job(page, 'lecture.mkv');
      await expect.poll(() => done.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      const fid = (await done.getAttribute('data-fid'))!;
      // The audio element plays the MP3 through a signed link: its length is the video's.
      const duration = await done.locator('audio').evaluate(
        (audio: HTMLAudioElement) =>
          new Promise<number>((resolve, reject) => {
            if (audio.readyState >= 1 && Number.isFinite(audio.duration)) return resolve(audio.duration);
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration), { once: true });
            audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error?.code}`)), { once: true });
          }),
      );
      expect(duration).toBeCloseTo((await probe(media.short.path)).durationSeconds, 0);
      await shot(page, 'done');

      const [download] = await Promise.all([page.waitForEvent('download'), done.getByRole('link', { name: 'Download MP3' }).click()]);
      expect(download.suggestedFilename()).toBe('lecture.mp3');
      const view = await jobView(page, fid);
      const mp3Fid = view.mp3_fid;
      expect(await readFile((await download.path())!)).toEqual(await readGridFsFile(stack.mongo, 'mp3s', mp3Fid));

      // Deleted from the page: gone from the list and from the API.
      await done.getByRole('button', { name: /^Delete/ }).click();
      await expect.poll(() => done.count()).toBe(0);
      expect((await fetch(`${stack.url}/jobs/${fid}`, { headers: { authorization: `Bearer ${await token(page)}` } })).status).toBe(404);

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.locator('#login-view').waitFor({ state: 'visible' });
      expect(await token(page)).toBeUndefined();
      expect(offsite).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('when a tab is closed midway through an upload, then the same file chosen in a new tab goes on from where it stopped', async () => {
    const user = await addUser(stack.authConfig);
    const first = await open();
    try {
      await logIn(first.page, user.email, user.password);
      await first.page.locator('#app-view').waitFor({ state: 'visible' });
      await throttle(first.page, 2 * 1024 ** 2);
      const stored = chunkStored(first.page);
      await dropFile(first.page, 'seminar.mkv', media.short.data);
      const uploadUrl = (await stored).url();
      await first.page.close();

      // The same browser (its localStorage), a new tab: the upload goes on from the server's offset.
      const second = await open(first.context);
      await logIn(second.page, user.email, user.password);
      await second.page.locator('#app-view').waitFor({ state: 'visible' });
      // Whatever was on its way when the tab closed, the server says where it stands, and the page asks it.
      const offsets: number[] = [];
      second.page.on('request', (req) => {
        if (req.method() === 'PATCH') offsets.push(Number(req.headers()['upload-offset']));
      });
      const left = await held(uploadUrl, `Bearer ${await token(second.page)}`);
      expect(left.offset).toBeGreaterThan(0);
      await dropFile(second.page, 'seminar.mkv', media.short.data);
      const again = second.page.locator('#uploads li', { hasText: 'seminar.mkv' });
      await expect.poll(() => again.locator('.state').textContent(), { timeout: 60_000 }).toBe('uploaded');
      // Never from the start: every PATCH goes on from the server's offset (none at all when the PATCH on its
      // way as the tab closed had brought the last byte).
      expect(offsets.every((offset) => offset >= left.offset)).toBe(true);
      if (left.offset < media.short.data.length) expect(offsets.length).toBeGreaterThan(0);
      await expect.poll(() => job(second.page, 'seminar.mkv').getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      // One upload, not two: the first tab's was continued.
      expect(await second.page.locator('#jobs li').count()).toBe(1);
      expect(second.offsite).toEqual([]);
    } finally {
      await first.context.close();
    }
  });

  it('when long videos wait and convert, then the page shows the queue position and percent, and cancels both', async () => {
    const { page, context } = await loggedIn();
    try {
      const named = await Promise.all(
        ['first-talk.mp4', 'second-talk.mp4'].map(async (name) => {
          const path = join(dirname(media.long.path), name);
          await copyFile(media.long.path, path);
          return path;
        }),
      );
      await page.locator('#files').setInputFiles(named);
      const first = job(page, 'first-talk.mp4');
      const second = job(page, 'second-talk.mp4');
      // One converter takes one job at a time: one converts, the other waits first in line.
      const converting = page.locator('#jobs li[data-state="converting"]');
      const queued = page.locator('#jobs li[data-state="queued"]');
      // Two signals, each with its own bound, so that a failure says which one did not come: a job converting
      // (both uploads stored, a converter took one), then its percent moving (progress reaches the page).
      await converting.waitFor({ state: 'attached', timeout: 90_000 });
      await expect.poll(() => converting.locator('.state').textContent(), { timeout: 30_000 }).toMatch(/converting [1-9]\d*%/);
      await expect.poll(() => queued.locator('.state').textContent(), { timeout: 30_000 }).toBe('queued, 1st in line');
      await shot(page, 'converting');
      await queued.getByRole('button', { name: /^Cancel/ }).click();
      await converting.getByRole('button', { name: /^Cancel/ }).click();
      await expect.poll(() => first.getAttribute('data-state'), { timeout: 30_000 }).toBe('cancelled');
      await expect.poll(() => second.getAttribute('data-state'), { timeout: 30_000 }).toBe('cancelled');
      await shot(page, 'cancelled');
    } finally {
      await context.close();
    }
  }, 180_000);

  it('when MP3 options are chosen, then the job carries them; options that clash are refused with the reason', async () => {
    const { page, context } = await loggedIn();
    try {
      await page.getByText('MP3 options').click();
      await page.getByLabel('Constant bitrate').selectOption('64');
      await page.getByLabel('Channels').selectOption({ label: 'Mono' });
      await page.locator('#files').setInputFiles({ name: 'memo.mp4', mimeType: 'video/mp4', buffer: media.brief.data });
      const memo = job(page, 'memo.mp4');
      await expect.poll(() => memo.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      const fid = (await memo.getAttribute('data-fid'))!;
      const view = await jobView(page, fid);
      expect(view.options).toEqual({ bitrate: 64, channels: 1 });

      await page.getByLabel('Quality (variable bitrate)').selectOption('2');
      await page.locator('#files').setInputFiles({ name: 'clash.mp4', mimeType: 'video/mp4', buffer: media.brief.data });
      const row = page.locator('#uploads li', { hasText: 'clash.mp4' });
      await expect.poll(() => row.locator('.state').textContent(), { timeout: 15_000 }).toMatch(/^upload stopped: .*not both/);
      expect(await row.getByRole('button', { name: 'Resume' }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('when trim and loudness are set, then the upload carries them, as the shared schema reads them, to the job', async () => {
    const { page, context } = await loggedIn();
    try {
      await page.getByText('MP3 options').click();
      await page.getByLabel('Start', { exact: true }).fill('0:00.5');
      await page.getByLabel('End', { exact: true }).fill('1.5');
      await page.getByLabel('Loudness', { exact: true }).fill('-16');
      await page.getByLabel('True peak', { exact: true }).fill('-2');
      await shot(page, 'options');
      await page.locator('#files').setInputFiles({ name: 'trimmed.mp4', mimeType: 'video/mp4', buffer: media.brief.data });
      const trimmed = job(page, 'trimmed.mp4');
      await expect.poll(() => trimmed.count(), { timeout: 30_000 }).toBe(1);
      const fid = (await trimmed.getAttribute('data-fid'))!;
      const view = await jobView(page, fid);
      expect(view.options).toEqual({ start: 0.5, end: 1.5, loudness: -16, true_peak: -2 });
    } finally {
      await context.close();
    }
  });

  it('when split by chapters is chosen, then the done job lists its parts as text and downloads them all as one ZIP, with no player', async () => {
    const { page, context, offsite } = await loggedIn();
    try {
      const titleBefore = await page.title();
      await page.getByText('MP3 options').click();
      await page.getByLabel('Split', { exact: true }).selectOption('chapters');
      await page.locator('#files').setInputFiles({ name: 'book.mkv', mimeType: 'video/x-matroska', buffer: media.book.data });
      const book = job(page, 'book.mkv');
      await expect.poll(() => book.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      const fid = (await book.getAttribute('data-fid'))!;
      expect((await jobView(page, fid)).options).toEqual({ split: 'chapters' });
      // Each part by its number, its title as text (markup shown, never run) and its length.
      await expect
        .poll(() => book.locator('.parts li').allTextContents(), { timeout: 15_000 })
        .toEqual(['01 <img src=x onerror="document.title=1"> 2 s', '02 ../../etc/passwd 2 s', '03 Chapter 3 2 s']);
      expect(await book.locator('.state').textContent()).toMatch(/^done, 3 parts, /);
      expect(await book.locator('img, audio').count()).toBe(0);
      expect(await page.title()).toBe(titleBefore);
      await shot(page, 'split');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        book.getByRole('link', { name: 'Download all 3 parts of book.mkv as one ZIP' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('book.zip');
      const path = (await download.path())!;
      expect((await run('unzip', ['-tqq', path])).stdout).toBe('');
      const names = await run('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', path]);
      expect(names.stdout.trim().split('\n')).toHaveLength(3);
      expect(offsite).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('when done jobs are ticked and Download selected is clicked, then one ZIP of their MP3s downloads, which unzip and Python test clean', async () => {
    const { page, context, offsite } = await loggedIn();
    try {
      const button = page.getByRole('button', { name: /^Download selected/ });
      expect(await button.isDisabled()).toBe(true);
      for (const name of ['first.mp4', 'second.mp4', 'First.mkv']) {
        await page.locator('#files').setInputFiles({ name, mimeType: 'video/mp4', buffer: media.brief.data });
      }
      const rows = ['first.mp4', 'second.mp4', 'First.mkv'].map((name) => job(page, name));
      for (const row of rows) await expect.poll(() => row.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      for (const row of [rows[0]!, rows[2]!]) await row.getByRole('checkbox').check();
      await expect.poll(() => button.textContent()).toBe('Download selected (2)');
      await shot(page, 'selected');
      const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
      expect(download.suggestedFilename()).toBe('mp3s.zip');
      const path = (await download.path())!;
      expect((await run('unzip', ['-tqq', path])).stdout).toBe('');
      const listing = await run('python3', [
        '-c',
        'import sys, zipfile, json; z = zipfile.ZipFile(sys.argv[1]); print(json.dumps([[i.filename, z.read(i).hex()] for i in z.infolist()]))',
        path,
      ]);
      const entries = JSON.parse(listing.stdout) as [string, string][];
      // In the list's order; the second of first.mp3 and First.mp3 is numbered (names are unique whatever their case).
      const ticked = await page.locator('#jobs li:has(input:checked)').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.fid!));
      const named = await Promise.all(ticked.map(async (fid) => (await page.locator(`#jobs li[data-fid="${fid}"] .name`).textContent())!));
      expect(entries.map(([name]) => name)).toEqual([named[0]!.replace(/\.mp4$|\.mkv$/, '.mp3'), named[1]!.replace(/\.mp4$|\.mkv$/, ' (2).mp3')]);
      for (const [i, fid] of ticked.entries()) {
        const { mp3_fid } = await jobView(page, fid);
        expect(Buffer.from(entries[i]![1], 'hex').equals(await readGridFsFile(stack.mongo, 'mp3s', mp3_fid))).toBe(true);
      }
      // A deleted job leaves the selection.
      await rows[0]!.getByRole('button', { name: /^Delete/ }).click();
      await expect.poll(() => button.textContent()).toBe('Download selected (1)');
      expect(offsite).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('when the API reference is opened, then it renders every operation of the document from the gateway alone, with nothing blocked', async () => {
    const { page, context, offsite } = await open();
    try {
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') blocked.push(m.text());
      });
      page.on('pageerror', (e) => blocked.push(e.message));
      await page.goto(`${stack.url}/docs`);
      const document = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
        webhooks?: Record<string, Record<string, unknown>>;
      };
      // The page shows the routes and, as operations too, the webhooks the document describes (what receivers get).
      const operations = [...Object.values(document.paths), ...Object.values(document.webhooks ?? {})].flatMap((item) =>
        Object.keys(item).filter((k) => ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'].includes(k)),
      );
      await expect.poll(() => page.locator('.opblock').count(), { timeout: 30_000 }).toBe(operations.length);
      await shot(page, 'docs');
      expect(blocked).toEqual([]);
      expect(offsite).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('when a video has no sound, then its job shows failed with the reason', async () => {
    const { page, context } = await loggedIn();
    try {
      await page.locator('#files').setInputFiles(media.silent.path);
      const failed = job(page, 'video.mp4');
      await expect.poll(() => failed.getAttribute('data-state'), { timeout: 60_000 }).toBe('failed');
      expect(await failed.locator('.state').textContent()).toMatch(/^failed: .*audio/i);
      await shot(page, 'failed');
    } finally {
      await context.close();
    }
  });
});

/** The page's token, as it keeps it for the tab. */
const token = (page: Page): Promise<string | undefined> =>
  page.evaluate(() => (JSON.parse(sessionStorage.getItem('mp3converter.session') ?? 'null') as { token: string } | null)?.token);
