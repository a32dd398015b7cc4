/**
 * Requests per second against the system `scripts/start.sh` runs (bench.sh starts it when it is not running),
 * driven by wrk (`apt-get install wrk`): for each request, SECONDS of CONNECTIONS connections sending it back
 * to back, after a 2 s warm-up; one user with JOBS jobs (one converted through the system, the others recorded
 * as done). Event streams: CONNECTIONS opened at once, five per user (the default limit), held 5 s; their
 * req/s is how many opened per second, their p50/p99 the time to the answer's headers.
 *
 *   bash scripts/bench.sh http [SECONDS] [CONNECTIONS] [JOBS]     (default 10 16 1000)
 *
 * GATEWAY_URL points it at another gateway of the same system (one started with other Node flags, say).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jobsCollection, mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { ObjectId, createMongoClient } from '@mp3converter/shared/storage';
import { makeVideo, waitFor } from '@mp3converter/shared/testing';
import { mp3IdFor } from '../../services/converter/src/domain/mp3-id.js';
import { fmt } from './common.js';
import { type User, basic, newUser, readSystem } from './system.js';

const run = promisify(execFile);
const [seconds = 10, connections = 16, jobCount = 1000] = process.argv.slice(2).map(Number);
const system = await readSystem();
const gateway = process.env.GATEWAY_URL ?? system.gateway;
const mongo = createMongoClient(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017', 'bench-http');
const store = mongoJobStore(mongo);
const work = await mkdtemp(join(tmpdir(), 'mp3c-bench-http-'));

await run('wrk', ['--version']).catch((err: { stdout?: string; code?: unknown }) => {
  // wrk prints its version and exits 1.
  if (!err.stdout?.includes('wrk')) throw new Error('wrk is needed: apt-get install wrk');
});

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

const toMs = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? Number.NaN);

/** One wrk run; its latency percentiles in ms, and the answers that were not 2xx/3xx or failed outright. */
async function wrk(url: string, { headers = {}, method = 'GET' }: { headers?: Record<string, string>; method?: string } = {}): Promise<Figures> {
  const script = join(work, 'request.lua');
  const lua = [
    `wrk.method = ${JSON.stringify(method)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
  ];
  await writeFile(script, `${lua.join('\n')}\n`);
  const args = (duration: number) => ['-t', '2', '-c', String(connections), '-d', `${duration}s`, '--latency', '-s', script, url];
  await run('wrk', args(2));
  const { stdout } = await run('wrk', args(seconds));
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(stdout);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const count = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]),
    p50: pct('50'),
    p99: pct('99'),
    failed: count(/Non-2xx or 3xx responses: (\d+)/) + (socketErrors ? socketErrors.slice(1).reduce((n, v) => n + Number(v), 0) : 0),
  };
}

/** Opens `n` event streams at once (each user may hold 5), holds them `holdMs`, then closes them. */
async function holdStreams(users: User[], n: number, holdMs: number) {
  const controller = new AbortController();
  const started = performance.now();
  const opens = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t0 = performance.now();
      const res = await fetch(`${gateway}/events`, { headers: { authorization: `Bearer ${users[i % users.length]!.token}` }, signal: controller.signal });
      const ms = performance.now() - t0;
      if (res.status !== 200 || !res.body) return { ms, ok: false, ended: Promise.resolve() };
      const reader = res.body.getReader();
      const ended = (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done) {}
      })();
      return { ms, ok: true, ended };
    }),
  );
  const allOpenMs = performance.now() - started;
  let closedEarly = 0;
  for (const o of opens.filter((o) => o.ok)) {
    void o.ended.then(() => {
      if (!controller.signal.aborted) closedEarly++;
    });
  }
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  const held = opens.filter((o) => o.ok).length - closedEarly;
  controller.abort();
  const ms = opens.map((o) => o.ms).sort((a, b) => a - b);
  return { rps: n / (allOpenMs / 1000), p50: ms[Math.floor(ms.length * 0.5)]!, p99: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))]!, held };
}

/** The Node flags of the gateway process the start command runs. */
async function gatewayFlags(): Promise<string> {
  if (process.env.GATEWAY_URL) return 'as started apart (GATEWAY_URL)';
  try {
    const pid = (await readFile(join(system.pids, 'gateway.pid'), 'utf8')).trim();
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const env = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').find((e) => e.startsWith('NODE_OPTIONS=')) ?? 'NODE_OPTIONS=';
    return `${argv.slice(1, -1).join(' ') || '(no flags)'}, ${env}`;
  } catch {
    return 'unknown (not the started system’s gateway process)';
  }
}

// --- the user, their converted job and JOBS - 1 recorded ones -------------------------------------------------
const user = await newUser(system, 'http');
const bearer = { authorization: `Bearer ${user.token}` };
const video = await makeVideo({ seconds: 2 });
const form = new FormData();
form.append('file', new Blob([new Uint8Array(await readFile(video.path))], { type: 'video/mp4' }), 'clip.mp4');
const uploaded = await fetch(`${gateway}/upload`, { method: 'POST', body: form, headers: bearer });
if (uploaded.status !== 202) throw new Error(`upload refused: ${uploaded.status} ${await uploaded.text()}`);
const { video_fid: fid } = (await uploaded.json()) as { video_fid: string };
await video.cleanup();
await waitFor(async () => ((await (await fetch(`${gateway}/status?fid=${fid}`, { headers: bearer })).json()) as { state: string }).state === 'done', {
  timeoutMs: 120_000,
  what: 'the upload converted',
});
const link = (await (await fetch(`${gateway}/jobs/${fid}/link`, { method: 'POST', headers: bearer })).json()) as { url: string };
const signed = new URL(link.url);
const download = `${gateway}${signed.pathname}${signed.search}`;

// One after the other, as one user's uploads mostly are: on FerretDB, increments of the owner's job count made
// at the same moment can be lost, and the list pages of a burst grow past 20 jobs (see JobStore).
for (let i = 1; i < jobCount; i++) {
  const videoFid = new ObjectId().toHexString();
  await store.create({ videoFid, owner: user.email, filename: 'lecture.mp4', size: 5_000_000, contentType: 'video/mp4' });
  const now = new Date();
  await jobsCollection(mongo).updateOne(
    { _id: new ObjectId(videoFid) },
    { $set: { state: 'done', mp3_fid: mp3IdFor(videoFid), mp3_size: 480_000, duration_seconds: 60, started_at: now, finished_at: now, updated_at: now } },
  );
}

const eventUsers = [user, ...(await Promise.all(Array.from({ length: Math.ceil(connections / 5) - 1 }, () => newUser(system, 'http'))))];

// --- the runs ------------------------------------------------------------------------------------------------
const rows: [string, Figures | Awaited<ReturnType<typeof holdStreams>>][] = [];
rows.push(['POST /login', await wrk(`${gateway}/login`, { method: 'POST', headers: { authorization: basic(user.email, user.password) } })]);
rows.push(['GET /status?fid=', await wrk(`${gateway}/status?fid=${fid}`, { headers: bearer })]);
rows.push(['GET /jobs?limit=20', await wrk(`${gateway}/jobs?limit=20`, { headers: bearer })]);
rows.push(['GET /events (held)', await holdStreams(eventUsers, connections, 5_000)]);
rows.push(['GET / (the page)', await wrk(`${gateway}/`)]);
rows.push(['GET /openapi.json', await wrk(`${gateway}/openapi.json`)]);
rows.push(['GET signed download', await wrk(download)]);

await fetch(`${gateway}/jobs/${fid}`, { method: 'DELETE', headers: bearer });
await jobsCollection(mongo).deleteMany({ owner: user.email });
await mongo.close();
await rm(work, { recursive: true, force: true });

const pad = (s: string, n: number) => s.padStart(n);
console.log(`\nhttp: wrk, ${connections} connections, ${seconds} s per request after a 2 s warm-up; ${jobCount} jobs for the user`);
const load = loadavg().map((l) => fmt(l, 2));
console.log(`gateway ${gateway}: node ${await gatewayFlags()}; load average ${load.join(' ')}\n`);
console.log(`${'request'.padEnd(22)}${pad('req/s', 8)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}  not 2xx`);
for (const [name, f] of rows) {
  const last = 'held' in f ? `${f.held}/${connections} held 5 s` : String(f.failed);
  console.log(`${name.padEnd(22)}${pad(fmt(f.rps, 0), 8)}${pad(fmt(f.p50, 1), 9)}${pad(fmt(f.p99, 1), 9)}  ${last}`);
}
const status = rows[1]![1].rps;
const jobs = rows[2]![1].rps;
console.log(`\n/jobs at ${fmt((100 * jobs) / status, 0)} % of /status (target >= 50 %)`);
