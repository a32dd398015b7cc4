/**
 * Load benchmark against the system `scripts/start.sh` runs (bench.sh starts it when it is not running):
 *
 *   1. idle: one user uploads one short video; upload → email, the reference for scenario 3.
 *   2. load: USERS users upload UPLOADS videos each, all at once; total wall time, conversions per minute,
 *      p50/p95 of upload → email, and the converter's per-phase medians (from its `conversion done` logs).
 *   3. backlog: user A uploads 30 videos, then user B uploads one; B's upload → email against the idle one.
 *
 *   bash scripts/bench.sh load [USERS] [UPLOADS]     (default 5 10)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeVideo } from '@mp3converter/shared/testing';
import { mp3IdFor } from '../../services/converter/src/domain/mp3-id.js';
import { fmt, root } from './common.js';
import { type User, newUser as makeUser, readSystem } from './system.js';

const [users = 5, uploads = 10] = process.argv.slice(2).map(Number);
const BACKLOG = 30;
const system = await readSystem();
const converterLog = join(root, '.local/logs/converter.log');
const newUser = () => makeUser(system, 'load');

interface Mail {
  text: string;
}

interface Upload {
  videoFid: string;
  mp3Fid: string;
  /** Epoch ms when the upload request was sent. */
  sentAt: number;
  owner: string;
}

async function upload(user: User, video: Buffer): Promise<Upload> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(video)], { type: 'video/mp4' }), 'lecture.mp4');
  const sentAt = Date.now();
  const res = await fetch(`${system.gateway}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${user.token}` } });
  if (res.status !== 202) throw new Error(`upload refused: ${res.status} ${await res.text()}`);
  const { video_fid: videoFid } = (await res.json()) as { video_fid: string };
  return { videoFid, mp3Fid: mp3IdFor(videoFid), sentAt, owner: user.email };
}

/** When each MP3's email was first seen at the mail catcher (its Date header has only whole seconds), epoch ms. */
const seen = new Map<string, number>();
let polling: Promise<void> | undefined;
async function poll(): Promise<void> {
  const mails = (await (await fetch(`${system.mail}/email`)).json()) as Mail[];
  const now = Date.now();
  for (const mail of mails) {
    for (const [fid] of mail.text.matchAll(/[0-9a-f]{24}/g)) if (!seen.has(fid)) seen.set(fid, now);
  }
}

/** Upload → email for each upload, once every one has its email. */
async function emailed(all: Upload[], timeoutMs = 15 * 60_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    polling ??= poll().finally(() => (polling = undefined));
    await polling;
    if (all.every((u) => seen.has(u.mp3Fid))) return new Map(all.map((u) => [u.videoFid, seen.get(u.mp3Fid)! - u.sentAt]));
    if (Date.now() > deadline) throw new Error(`${all.filter((u) => !seen.has(u.mp3Fid)).length} of ${all.length} emails did not arrive`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
};
const s = (ms: number) => `${fmt(ms / 1000, 2)} s`;

/** The converter's per-phase timings of these jobs, from its `conversion done` log lines. */
async function phases(videoFids: Set<string>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const line of (await readFile(converterLog, 'utf8')).split('\n')) {
    if (!line.includes('conversion done')) continue;
    let entry: { videoFid?: string; ms?: Record<string, number>; totalMs?: number };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (!entry.videoFid || !videoFids.has(entry.videoFid)) continue;
    for (const [phase, ms] of Object.entries({ ...entry.ms, total: entry.totalMs ?? Number.NaN })) (out[phase] ??= []).push(ms);
  }
  return out;
}

process.stderr.write('generating a 10-second video...\n');
const made = await makeVideo({ seconds: 10, width: 640, height: 360, fps: 15 });
const video = await readFile(made.path);
await made.cleanup();
process.stderr.write(`video: ${fmt(video.length / 1024, 0)} KiB\n`);

// 1. idle
const idleUser = await newUser();
const idleUpload = await upload(idleUser, video);
const idleMs = (await emailed([idleUpload])).get(idleUpload.videoFid)!;
process.stderr.write(`idle: ${s(idleMs)}\n`);

// 2. load
const people = await Promise.all(Array.from({ length: users }, () => newUser()));
process.stderr.write(`load: ${users} users x ${uploads} uploads...\n`);
const t0 = Date.now();
const all = (await Promise.all(people.map((p) => Promise.all(Array.from({ length: uploads }, () => upload(p, video)))))).flat();
const waits = await emailed(all);
const wallMs = Math.max(...all.map((u) => u.sentAt + waits.get(u.videoFid)!)) - t0;
const latencies = [...waits.values()];
const timings = await phases(new Set(all.map((u) => u.videoFid)));

// 3. backlog
const a = await newUser();
const b = await newUser();
process.stderr.write(`backlog: user A uploads ${BACKLOG}, then user B one...\n`);
const aUploads = await Promise.all(Array.from({ length: BACKLOG }, () => upload(a, video)));
const bUpload = await upload(b, video);
const bMs = (await emailed([bUpload])).get(bUpload.videoFid)!;
const aWaits = await emailed(aUploads);
const aLastMs = Math.max(...aUploads.map((u) => u.sentAt + aWaits.get(u.videoFid)! - aUploads[0]!.sentAt));

console.log(`\nload: ${users} users x ${uploads} uploads of a ${fmt(video.length / 1024, 0)} KiB, 10-second video, through ${system.gateway}`);
console.log(`  total wall time          ${s(wallMs)}`);
console.log(`  conversions per minute   ${fmt((all.length / wallMs) * 60_000)}`);
console.log(`  upload -> email          p50 ${s(quantile(latencies, 0.5))}   p95 ${s(quantile(latencies, 0.95))}   (idle ${s(idleMs)})`);
console.log(
  `  converter phase medians  ${Object.entries(timings)
    .map(([phase, ms]) => `${phase} ${s(quantile(ms, 0.5))}`)
    .join('   ')}`,
);
console.log(`  copy phase p50 ${s(quantile(timings.copy ?? [], 0.5))} (target <= 0.30 s for a video under 1 MB)`);
console.log(`\nbacklog: user A uploads ${BACKLOG}, then user B uploads one`);
console.log(`  B: upload -> email       ${s(bMs)} against ${s(idleMs)} idle: ${fmt(bMs / idleMs, 2)} x (target <= 3 x)`);
console.log(`  A: all ${BACKLOG} emailed after   ${s(aLastMs)}`);
process.exit(0);
