/**
 * Load benchmark against the system the start command brings up (the one at .local/run/system.json, or one
 * this run starts and stops): N users each upload M short generated videos at once, then one user's backlog
 * of 30 against a second user's single upload.
 *
 * Prints the total wall time, conversions per minute, p50/p95 of upload → email, the converter's per-phase
 * medians (from its "conversion done" log lines), and how long the second user waited behind the backlog
 * against the same upload on an idle system.
 *
 *   bash scripts/bench.sh load [USERS] [UPLOADS_PER_USER]     (default 5 × 10)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { makeVideo, uniqueEmail } from '@mp3converter/shared/testing';
import { fmt, root } from './common.js';

const run = promisify(execFile);
const [users = 5, perUser = 10] = process.argv.slice(2).map(Number);
const BACKLOG = 30;
const systemFile = `${root}.local/run/system.json`;
const converterLog = `${root}.local/logs/converter.log`;

interface SystemInfo {
  gateway: string;
  mail: string;
  gatewayHealth: string;
  mysql: { host: string; port: number; user: string; password: string; database: string };
}
interface Mail {
  id: string;
  to: { address: string }[];
  text: string;
}
interface User {
  email: string;
  token: string;
}
interface Upload {
  user: User;
  videoFid: string;
  sentAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readSystem(): Promise<SystemInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(systemFile, 'utf8')) as SystemInfo;
    return (await fetch(`${info.gatewayHealth}/readyz`)).ok ? info : undefined;
  } catch {
    return undefined;
  }
}

/** The running system, or one started the README's way for this run (stopped by the returned function). */
async function system(): Promise<{ info: SystemInfo; stop: () => Promise<void> }> {
  const running = await readSystem();
  if (running) return { info: running, stop: async () => undefined };
  console.log('no system running: starting one with scripts/start.sh');
  await rm(systemFile, { force: true });
  const child: ChildProcess = spawn('bash', ['scripts/start.sh'], { cwd: root, stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 240_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`scripts/start.sh exited with ${child.exitCode} (see .local/logs/)`);
    if (Date.now() > deadline) throw new Error('scripts/start.sh was not ready in 240 s');
    const info = await readSystem();
    if (info) {
      const stop = async () => {
        child.kill('SIGTERM');
        await exited;
      };
      return { info, stop };
    }
    await sleep(250);
  }
}

const { info, stop } = await system();

/** A user made with the auth CLI (the documented way) and logged in with Basic, as the original's clients do. */
async function newUser(prefix: string): Promise<User> {
  const email = uniqueEmail(prefix);
  const password = randomBytes(9).toString('base64url');
  await run(process.execPath, ['services/auth/dist/cli.js', 'add-user', email], {
    cwd: root,
    env: {
      ...process.env,
      MYSQL_HOST: info.mysql.host,
      MYSQL_PORT: String(info.mysql.port),
      MYSQL_USER: info.mysql.user,
      MYSQL_PASSWORD: info.mysql.password,
      MYSQL_DB: info.mysql.database,
      NEW_USER_PASSWORD: password,
    },
  });
  const res = await fetch(`${info.gateway}/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`login of ${email} answered ${res.status}`);
  return { email, token: await res.text() };
}

async function upload(user: User, video: Buffer, name: string): Promise<Upload> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(video)], { type: 'video/mp4' }), name);
  const sentAt = Date.now();
  const res = await fetch(`${info.gateway}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${user.token}` } });
  const body = (await res.json()) as { video_fid?: string };
  if (res.status !== 202 || !body.video_fid) throw new Error(`upload answered ${res.status}: ${JSON.stringify(body)}`);
  return { user, videoFid: body.video_fid, sentAt };
}

async function mp3FidOf(u: Upload): Promise<string> {
  const res = await fetch(`${info.gateway}/status?fid=${u.videoFid}`, { headers: { authorization: `Bearer ${u.user.token}` } });
  const body = (await res.json()) as { state: string; mp3_fid: string | null; reason?: string | null };
  if (body.state !== 'done' || !body.mp3_fid) throw new Error(`job ${u.videoFid} ended ${body.state}: ${body.reason ?? ''}`);
  return body.mp3_fid;
}

/**
 * When each email was first seen in the mail catcher, polled every 100 ms (the resolution of the figures):
 * the catcher's own `time` is the Date header, which has whole seconds only.
 */
const firstSeen = new Map<string, number>();
let mails: Mail[] = [];
let polling = true;
const poller = (async () => {
  while (polling) {
    try {
      mails = (await (await fetch(`${info.mail}/email`)).json()) as Mail[];
      const now = Date.now();
      for (const m of mails) if (!firstSeen.has(m.id)) firstSeen.set(m.id, now);
    } catch {
      // the catcher is busy or restarting: the next round sees the mail
    }
    await sleep(100);
  }
})();

/** Waits until every upload's email has arrived, then returns each upload's upload → email time. */
async function emailTimes(uploads: Upload[], timeoutMs = 15 * 60_000): Promise<number[]> {
  const addresses = new Set(uploads.map((u) => u.user.email));
  const expected = new Map<string, number>();
  for (const u of uploads) expected.set(u.user.email, (expected.get(u.user.email) ?? 0) + 1);
  const deadline = Date.now() + timeoutMs;
  let mine: Mail[] = [];
  for (;;) {
    mine = mails.filter((m) => m.to.some((t) => addresses.has(t.address)));
    const got = new Map<string, number>();
    for (const m of mine) for (const t of m.to) got.set(t.address, (got.get(t.address) ?? 0) + 1);
    if ([...expected].every(([a, n]) => (got.get(a) ?? 0) >= n)) break;
    if (Date.now() > deadline) throw new Error(`only ${mine.length} of ${uploads.length} emails arrived`);
    await sleep(250);
  }
  return Promise.all(
    uploads.map(async (u) => {
      const mp3Fid = await mp3FidOf(u);
      const mail = mine.find((m) => m.text.includes(mp3Fid));
      if (!mail) throw new Error(`no email names ${mp3Fid}`);
      return firstSeen.get(mail.id)! - u.sentAt;
    }),
  );
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const seconds = (ms: number) => `${fmt(ms / 1000, 2)} s`;

/** The converter's "conversion done" lines written since `offset`, for these jobs: phase → milliseconds. */
async function phaseMedians(offset: number, fids: Set<string>): Promise<Record<string, number>> {
  const file = await open(converterLog, 'r');
  const { size } = await file.stat();
  const buf = Buffer.alloc(Math.max(0, size - offset));
  await file.read(buf, 0, buf.length, offset);
  await file.close();
  const phases: Record<string, number[]> = {};
  for (const line of buf.toString('utf8').split('\n')) {
    if (!line.includes('"conversion done"')) continue;
    const entry = JSON.parse(line) as { videoFid?: string; ms?: Record<string, number>; totalMs?: number };
    if (entry.videoFid && !fids.has(entry.videoFid.toLowerCase())) continue;
    for (const [phase, ms] of Object.entries({ ...entry.ms, total: entry.totalMs })) if (typeof ms === 'number') (phases[phase] ??= []).push(ms);
  }
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, percentile(v, 50)]));
}
const logSize = async () => (await stat(converterLog).catch(() => ({ size: 0 }))).size;

try {
  // Short videos, each under 1 MB, a few different lengths so the encoder's work varies as in real use.
  const made = await Promise.all([12, 20, 30].map((s) => makeVideo({ seconds: s, width: 320, height: 240, fps: 15 })));
  const videos = await Promise.all(made.map((m) => readFile(m.path)));
  for (const m of made) await m.cleanup();
  const largest = Math.max(...videos.map((v) => v.length));

  // The same single upload on an idle system: the yardstick for the fairness scenario.
  const idleUser = await newUser('bench-idle');
  const [idleMs] = await emailTimes([await upload(idleUser, videos[1]!, 'idle.mp4')]);

  // N users × M uploads, all at once.
  const people = await Promise.all(Array.from({ length: users }, (_, i) => newUser(`bench-load${i}`)));
  const offset = await logSize();
  const started = Date.now();
  const uploads = await Promise.all(
    people.flatMap((user) => Array.from({ length: perUser }, (_, j) => upload(user, videos[j % videos.length]!, `lecture-${j}.mp4`))),
  );
  const times = await emailTimes(uploads);
  const wallMs = Math.max(...uploads.map((u, i) => u.sentAt + times[i]!)) - started;
  const phases = await phaseMedians(offset, new Set(uploads.map((u) => u.videoFid.toLowerCase())));

  // One user's backlog, then a second user's single upload.
  const [heavy, light] = await Promise.all([newUser('bench-backlog'), newUser('bench-single')]);
  const backlog = await Promise.all(Array.from({ length: BACKLOG }, (_, j) => upload(heavy, videos[j % videos.length]!, `backlog-${j}.mp4`)));
  const single = await upload(light, videos[1]!, 'single.mp4');
  const [singleMs] = await emailTimes([single]);
  await emailTimes(backlog);

  const total = uploads.length;
  console.log(`\nload: ${users} users × ${perUser} uploads (${total} videos of at most ${fmt(largest / 1024, 0)} KiB) through ${info.gateway}`);
  console.log(`  total wall time          ${seconds(wallMs)}`);
  console.log(`  conversions per minute   ${fmt((total / wallMs) * 60_000)}`);
  console.log(`  upload → email           p50 ${seconds(percentile(times, 50))}   p95 ${seconds(percentile(times, 95))}`);
  console.log(
    `  converter phase medians  ${Object.entries(phases)
      .map(([k, v]) => `${k} ${seconds(v)}`)
      .join('   ')}`,
  );
  console.log(`  copy phase p50           ${phases.copy === undefined ? 'n/a' : seconds(phases.copy)} (target <= 0.3 s)`);
  console.log(`\nfairness: one user uploads ${BACKLOG}, then a second user uploads one`);
  console.log(`  second user's upload → email  ${seconds(singleMs!)}   idle system ${seconds(idleMs!)}`);
  console.log(`  ratio                         ${fmt(singleMs! / idleMs!, 2)} × idle (target <= 3)`);
} finally {
  polling = false;
  await poller;
  await stop();
}
process.exit(0);
