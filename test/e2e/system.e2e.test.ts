import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jsonOf, makeVideo, probe, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const system = inject('system');
const gateway = system.gateway;

interface Mail {
  id: string;
  subject: string;
  text: string;
  html: string;
  to: { address: string }[];
}

const mails = async (): Promise<Mail[]> => (await fetch(`${system.mail}/email`)).json() as Promise<Mail[]>;
const mailsTo = async (to: string) => (await mails()).filter((m) => m.to.some((t) => t.address === to));

/** A user made with the auth CLI, the documented way, then logged in through the gateway with Basic. */
async function newUser(): Promise<{ email: string; password: string; token: string }> {
  const email = uniqueEmail('e2e');
  const password = randomBytes(9).toString('base64');
  await run(process.execPath, ['services/auth/dist/cli.js', 'add-user', email], {
    cwd: root,
    env: {
      ...process.env,
      MYSQL_HOST: system.mysql.host,
      MYSQL_PORT: String(system.mysql.port),
      MYSQL_USER: system.mysql.user,
      MYSQL_PASSWORD: system.mysql.password,
      MYSQL_DB: system.mysql.database,
      NEW_USER_PASSWORD: password,
    },
  });
  return { email, password, token: await login(email, password) };
}

async function login(email: string, password: string): Promise<string> {
  const res = await fetch(`${gateway}/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` },
  });
  expect(res.status).toBe(200);
  return res.text();
}

async function upload(token: string, data: Buffer, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(data)], { type: 'video/mp4' }), name);
  const res = await fetch(`${gateway}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(202);
  return (await jsonOf(res)).video_fid as string;
}

const status = async (token: string, videoFid: string) =>
  jsonOf(await fetch(`${gateway}/status?fid=${videoFid}`, { headers: { authorization: `Bearer ${token}` } }));

async function untilDone(token: string, videoFid: string, timeoutMs = 60_000): Promise<{ state: string; mp3_fid: string | null; reason: string | null }> {
  return waitFor(
    async () => {
      const s = await status(token, videoFid);
      return s.state === 'done' || s.state === 'failed' ? s : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `job ${videoFid} to finish` },
  );
}

/**
 * Waits until the broker holds nothing, ready or unacknowledged, on the notification's queues (`mp3`,
 * `failed`) and their retry queues: every message published to them so far was handled, its email sent or
 * the message dead-lettered. What a job published before it was marked done is then accounted for, so an
 * email count read after this is final.
 */
async function notificationsSettled(): Promise<void> {
  await waitFor(
    async () => {
      const { stdout } = await run('rabbitmqctl', ['list_queues', '--quiet', '--no-table-headers', 'name', 'messages']);
      const rows = stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter(([name]) => name && /^(mp3|failed)(\.retry\.\d+ms)?$/.test(name));
      return rows.some(([name]) => name === 'mp3') && rows.every(([, messages]) => messages === '0');
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'every mp3 and failure message handled' },
  );
}

/**
 * The original course's curl lines, as a user types them (with the Ingress's host name, which fetch
 * cannot set). Returns the status and the body (or writes the body to `output`).
 */
async function curl(args: string[], output?: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-H', 'Host: mp3converter.com', '-w', '\\n%{http_code}', ...(output ? ['-o', output] : []), ...args], {
    maxBuffer: 1 << 24,
  });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

const videos: Record<string, Buffer> = {};
const videoPaths: Record<string, string> = {};
const cleanups: (() => Promise<void>)[] = [];
let videoSeconds = 0;

beforeAll(async () => {
  for (const [name, opts] of [
    ['tone', { seconds: 8 }],
    ['silent', { seconds: 2, audio: false }],
    ['long', { seconds: 600, width: 64, height: 48, fps: 1 }],
    ['longer', { seconds: 2400, width: 64, height: 48, fps: 1 }],
  ] as const) {
    const made = await makeVideo(opts);
    cleanups.push(made.cleanup);
    videos[name] = await readFile(made.path);
    videoPaths[name] = made.path;
    if (name === 'tone') videoSeconds = (await probe(made.path)).durationSeconds;
  }
});
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe("the original's curl flow, end to end", () => {
  let token: string;
  let videoFid: string;
  let mp3Fid: string;

  it('when georgio logs in with curl -u and uploads with curl -F (Host mp3converter.com), then it is accepted', async () => {
    const login = await curl(['-u', 'georgio@email.com:Admin123', '-X', 'POST', `${gateway}/login`]);
    expect(login.status).toBe(200);
    token = login.body;
    const upload = await curl(['-F', `file=@${videoPaths.tone}`, '-H', `Authorization: Bearer ${token}`, `${gateway}/upload`]);
    expect(upload.status).toBe(202);
    videoFid = (JSON.parse(upload.body) as { video_fid: string }).video_fid;
  });

  it('when the job is followed on /status, then it reaches done with an mp3_fid', async () => {
    const done = await untilDone(token, videoFid);
    expect(done.state).toBe('done');
    mp3Fid = done.mp3_fid!;
  });

  it('when the email arrives at the mail catcher, then it carries the MP3 file id', async () => {
    const mail = await waitFor(async () => (await mailsTo('georgio@email.com')).find((m) => m.text.includes(mp3Fid)), { what: 'the email' });
    expect(mail.subject).toBe('MP3 Download');
    expect(mail.text).toContain(`mp3 file_id: ${mp3Fid} is now ready!`);
  });

  it("when /download?fid= is asked with curl, then an MP3 with the video's duration comes back", async () => {
    const path = join(tmpdir(), `e2e-${mp3Fid}.mp3`);
    const res = await curl(['-H', `Authorization: Bearer ${token}`, `${gateway}/download?fid=${mp3Fid}`], path);
    expect(res.status).toBe(200);
    const mp3 = await probe(path);
    expect(mp3.formatName).toBe('mp3');
    expect(Math.abs(mp3.durationSeconds - videoSeconds) / videoSeconds).toBeLessThan(0.01);
  });

  it("when the email's link is opened in a plain HTTP client with no token, then the same MP3 comes, with Range too", async () => {
    const mail = await waitFor(async () => (await mailsTo('georgio@email.com')).find((m) => m.text.includes(mp3Fid)), { what: 'the email' });
    const link = /(http:\/\/\S+\/download\?fid=\S+&sig=\S+)/.exec(mail.text)?.[1];
    expect(link?.startsWith(`${gateway}/download?fid=${mp3Fid}&expires=`)).toBe(true);
    expect(mail.html).toContain('Download the MP3');
    const withToken = Buffer.from(await (await fetch(`${gateway}/download?fid=${mp3Fid}`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer());
    const plain = await fetch(link!);
    expect(plain.status).toBe(200);
    expect(Buffer.from(await plain.arrayBuffer()).equals(withToken)).toBe(true);
    const part = await fetch(link!, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
  });

  it("when a second user asks for georgio's MP3, then 404", async () => {
    const other = await newUser();
    const res = await fetch(`${gateway}/download?fid=${mp3Fid}`, { headers: { authorization: `Bearer ${other.token}` } });
    expect(res.status).toBe(404);
  });
});

describe('probes', () => {
  it('when each service is probed, then /readyz answers 200 on its probe port and the public ports serve no probe', async () => {
    for (const url of [system.gatewayHealth, system.authHealth, system.converterHealth, system.notificationHealth, system.webhooksHealth]) {
      expect((await fetch(`${url}/readyz`)).status, url).toBe(200);
    }
    for (const url of [system.gateway, system.auth]) {
      for (const path of ['/healthz', '/readyz']) expect((await fetch(`${url}${path}`)).status, `${url}${path}`).toBe(404);
    }
  });
});

describe('under load and failure', () => {
  it('when 2 users upload 10 videos at once, then each gets exactly one MP3 and one email', async () => {
    const users = await Promise.all([newUser(), newUser()]);
    const jobs = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const user = users[i % 2]!;
        return { user, videoFid: await upload(user.token, videos.tone!, `load-${i}.mp4`) };
      }),
    );
    const results = await Promise.all(jobs.map((j) => untilDone(j.user.token, j.videoFid, 120_000)));
    expect(results.map((r) => r.state)).toEqual(Array(10).fill('done'));
    const mp3Fids = results.map((r) => r.mp3_fid!);
    expect(new Set(mp3Fids).size).toBe(10);
    await notificationsSettled();
    for (const user of users) {
      const received = await mailsTo(user.email);
      expect(received).toHaveLength(5);
      const mine = jobs.flatMap((j, i) => (j.user === user ? [mp3Fids[i]!] : []));
      expect(received.map((m) => mine.find((fid) => m.text.includes(fid))).sort()).toEqual([...mine].sort());
    }
  });

  it('when the converter is killed (SIGKILL) in the middle of a job and comes back, then still exactly one MP3 and one email', async () => {
    const user = await newUser();
    const videoFid = await upload(user.token, videos.long!, 'long.mp4');
    await waitFor(
      async () => {
        const s = await status(user.token, videoFid);
        return s.state === 'converting' && s.percent > 0;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: 'the job to be mid-conversion' },
    );
    const pid = Number(await readFile(join(system.pids, 'converter.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');

    const done = await untilDone(user.token, videoFid, 180_000);
    expect(done.state).toBe('done');
    expect(Number(await readFile(join(system.pids, 'converter.pid'), 'utf8'))).not.toBe(pid);
    await notificationsSettled();
    const received = await mailsTo(user.email);
    expect(received).toHaveLength(1);
    expect(received[0]!.text).toContain(done.mp3_fid!);
    const download = await fetch(`${gateway}/download?fid=${done.mp3_fid}`, { headers: { authorization: `Bearer ${user.token}`, range: 'bytes=0-1' } });
    expect(download.status).toBe(206);
  });

  it('when a video has no audio, then the job fails with the reason and the user gets the failure email', async () => {
    const user = await newUser();
    const videoFid = await upload(user.token, videos.silent!, 'silent.mp4');
    const done = await untilDone(user.token, videoFid);
    expect(done).toMatchObject({ state: 'failed', reason: 'the video has no audio track', mp3_fid: null });
    const mail = await waitFor(async () => (await mailsTo(user.email))[0], { what: 'the failure email' });
    expect(mail.subject).toBe('MP3 Download failed');
    expect(mail.text).toContain('the video has no audio track');
  });
});

describe('the job, watched and called off', () => {
  /** The `job` events of an open stream, as they arrive. */
  async function watch(token: string): Promise<{ events: Record<string, any>[]; close: () => void }> {
    const abort = new AbortController();
    const res = await fetch(`${gateway}/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: Record<string, any>[] = [];
    void (async () => {
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += Buffer.from(chunk).toString('utf8');
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
            if (data && /^event: job$/m.test(buffer.slice(0, end))) events.push(JSON.parse(data));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        // closed
      }
    })();
    return { events, close: () => abort.abort() };
  }

  it('when a long video is uploaded, then its progress arrives on /events, DELETE stops it, and /jobs lists it as cancelled', async () => {
    const user = await newUser();
    const stream = await watch(user.token);
    try {
      const videoFid = await upload(user.token, videos.longer!, 'long.mp4');
      await waitFor(() => stream.events.some((e) => e.video_fid === videoFid && e.type === 'progress' && e.percent > 0), {
        timeoutMs: 60_000,
        what: 'progress past 0 %',
      });
      const res = await fetch(`${gateway}/jobs/${videoFid}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.token}` } });
      expect(res.status).toBe(202);
      await waitFor(() => stream.events.some((e) => e.video_fid === videoFid && e.state === 'cancelled'), { timeoutMs: 30_000, what: 'the cancel' });
      const list = await jsonOf(await fetch(`${gateway}/jobs`, { headers: { authorization: `Bearer ${user.token}` } }));
      expect(list.jobs).toEqual([expect.objectContaining({ video_fid: videoFid, state: 'cancelled', filename: 'long.mp4' })]);
      // A later upload finishes and is emailed; the cancelled one never is.
      const next = await upload(user.token, videos.tone!, 'next.mp4');
      expect((await untilDone(user.token, next)).state).toBe('done');
      await notificationsSettled();
      const received = await mailsTo(user.email);
      expect(received).toHaveLength(1);
      expect(received[0]!.subject).toBe('MP3 Download');
    } finally {
      stream.close();
    }
  });
});
