/**
 * Burst benchmark against the system `scripts/start.sh` runs (bench.sh starts it when it is not running):
 * USERS users each send UPLOADS multipart uploads of a SIZE_MIB video, all at the same moment. Prints the
 * answers by status, p50/p95 of the upload time (request sent to answer), the store's write throughput
 * during the burst (bytes accepted over the time from the first byte sent to the last answer), and then
 * whether every accepted job ended `done` with exactly one email.
 *
 *   bash scripts/bench.sh burst [USERS] [UPLOADS] [SIZE_MIB] [MINUTES]     (default 4 10 9.7 10)
 *
 * The video is a real one of MINUTES minutes, padded to SIZE_MIB with an MP4 `free` box at its end (a box
 * every reader skips), so that the converter has the whole length to read and a short video to convert.
 */
import { readFile } from 'node:fs/promises';
import { makeVideo } from '@mp3converter/shared/testing';
import { mp3IdFor } from '../../services/converter/src/domain/mp3-id.js';
import { fmt } from './common.js';
import { type User, newUser as makeUser, readSystem } from './system.js';

const [users = 4, uploads = 10, sizeMiB = 9.7, minutes = 10] = process.argv.slice(2).map(Number);
const system = await readSystem();
const newUser = (): Promise<User> => makeUser(system, 'burst');

/** The video padded to `bytes` with a trailing `free` box (size, type, then anything). */
function padded(video: Buffer, bytes: number): Buffer {
  const pad = bytes - video.length;
  if (pad < 8) return video;
  const box = Buffer.alloc(pad);
  box.writeUInt32BE(pad, 0);
  box.write('free', 4, 'latin1');
  return Buffer.concat([video, box]);
}

interface Answer {
  status: number;
  code: string | undefined;
  ms: number;
  videoFid: string | undefined;
  token: string;
}

async function upload(user: User, body: Blob): Promise<Answer> {
  const form = new FormData();
  form.append('file', body, 'lecture.mp4');
  const t0 = performance.now();
  try {
    const res = await fetch(`${system.gateway}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${user.token}` } });
    const json = (await res.json().catch(() => ({}))) as { video_fid?: string; error?: { code?: string } };
    return { status: res.status, code: json.error?.code, ms: performance.now() - t0, videoFid: json.video_fid, token: user.token };
  } catch (err) {
    return { status: 0, code: (err as Error).message, ms: performance.now() - t0, videoFid: undefined, token: user.token };
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
};
const s = (ms: number) => `${fmt(ms / 1000, 2)} s`;

/** Emails per MP3 id at the mail catcher. */
async function emailsByMp3(): Promise<Map<string, number>> {
  const mails = (await (await fetch(`${system.mail}/email`)).json()) as { text: string }[];
  const count = new Map<string, number>();
  for (const mail of mails) for (const fid of new Set(mail.text.match(/[0-9a-f]{24}/g) ?? [])) count.set(fid, (count.get(fid) ?? 0) + 1);
  return count;
}

async function stateOf(answer: Answer): Promise<string> {
  const res = await fetch(`${system.gateway}/status?fid=${answer.videoFid}`, { headers: { authorization: `Bearer ${answer.token}` } });
  return res.ok ? ((await res.json()) as { state: string }).state : `status ${res.status}`;
}

process.stderr.write(`generating a ${minutes}-minute video...\n`);
const made = await makeVideo({ seconds: minutes * 60, width: 160, height: 120, fps: 5 });
const video = padded(await readFile(made.path), Math.round(sizeMiB * 1024 ** 2));
await made.cleanup();
const body = new Blob([new Uint8Array(video)], { type: 'video/mp4' });
const people = await Promise.all(Array.from({ length: users }, () => newUser()));

process.stderr.write(`burst: ${users} users x ${uploads} uploads of ${fmt(video.length / 1024 ** 2)} MiB...\n`);
const t0 = performance.now();
const answers = await Promise.all(people.flatMap((p) => Array.from({ length: uploads }, () => upload(p, body))));
const burstMs = performance.now() - t0;
const accepted = answers.filter((a) => a.status === 202);
const byStatus = new Map<string, number>();
for (const a of answers) {
  const key = a.status === 202 ? '202' : `${a.status} ${a.code ?? ''}`.trim();
  byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
}
const times = answers.map((a) => a.ms);
const storedMiB = (accepted.length * video.length) / 1024 ** 2;

console.log(
  `\nburst: ${users} users x ${uploads} uploads of ${fmt(video.length / 1024 ** 2)} MiB (${minutes}-minute video), at once, through ${system.gateway}`,
);
console.log(`  answers                  ${[...byStatus].map(([k, n]) => `${k}: ${n}`).join('   ')}`);
console.log(`  upload time              p50 ${s(quantile(times, 0.5))}   p95 ${s(quantile(times, 0.95))}   max ${s(Math.max(...times))}`);
console.log(`  burst wall time          ${s(burstMs)}`);
console.log(`  store throughput         ${fmt(storedMiB / (burstMs / 1000))} MiB/s (${fmt(storedMiB, 0)} MiB accepted)`);

// Every accepted job to its end, and its email: at most 30 minutes.
process.stderr.write('waiting for every job to end and its email...\n');
const deadline = Date.now() + 30 * 60_000;
const FINAL = ['done', 'failed', 'cancelled'];
// Only jobs not ended yet are asked about, one at a time: the benchmark should not be the load it measures.
const states: string[] = accepted.map(() => 'queued');
let emails = new Map<string, number>();
for (;;) {
  for (const [i, answer] of accepted.entries()) if (!FINAL.includes(states[i]!)) states[i] = await stateOf(answer);
  emails = await emailsByMp3();
  const settled = states.every((st) => FINAL.includes(st));
  const mailed = accepted.every((a) => (emails.get(mp3IdFor(a.videoFid!)) ?? 0) >= 1);
  if ((settled && mailed) || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 5_000));
}
const endMs = performance.now() - t0;
const stateCount = new Map<string, number>();
for (const st of states) stateCount.set(st, (stateCount.get(st) ?? 0) + 1);
const emailCounts = accepted.map((a) => emails.get(mp3IdFor(a.videoFid!)) ?? 0);
console.log(`  jobs                     ${[...stateCount].map(([k, n]) => `${k}: ${n}`).join('   ')}   (all ended after ${s(endMs)})`);
console.log(
  `  emails                   ${emailCounts.filter((n) => n === 1).length} of ${accepted.length} jobs with exactly one` +
    `${emailCounts.some((n) => n > 1) ? `, ${emailCounts.filter((n) => n > 1).length} with more` : ''}`,
);
process.exit(0);
