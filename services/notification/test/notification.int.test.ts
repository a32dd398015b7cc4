import { readFile } from 'node:fs/promises';
import { encodeMessage } from '@mp3converter/shared/contracts';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { checkSignedLink, checkSignedZipLink } from '@mp3converter/shared/links';
import {
  type QueuedMessage,
  TEST_LINK_SECRET,
  storeGridFsFile,
  deleteQueues,
  drainQueue,
  makeVideo,
  metricValue,
  publishRaw,
  scrape,
  uniqueEmail,
  uniqueName,
  waitFor,
} from '@mp3converter/shared/testing';
import { MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mp3IdFor } from '../../converter/src/domain/mp3-id.js';
import { startWorker as startConverter, storeVideoAsOriginal } from '../../converter/test/harness.js';
import { type Harness, freePort, rabbit, startWorker } from './harness.js';
import { type TestSmtp, startSmtp } from './smtp.js';

const mongo = new MongoClient(inject('servers').mongoUrl);
afterAll(() => mongo.close());
const sentLog = () => mongo.db('notifications').collection<{ _id: string; state: string; claimed_at: Date; attempts: number }>('sent');

const mp3Message = (username: string, mp3Fid = new ObjectId().toHexString()) => ({ video_fid: new ObjectId().toHexString(), mp3_fid: mp3Fid, username });

async function collect(queue: string, count: number, timeoutMs = 15_000): Promise<QueuedMessage[]> {
  const got: QueuedMessage[] = [];
  await waitFor(
    async () => {
      got.push(...(await drainQueue(rabbit(), queue)));
      return got.length >= count;
    },
    { timeoutMs, what: `${count} message(s) on ${queue}` },
  );
  return got;
}

const mailsTo = (smtp: TestSmtp, to: string) => smtp.mails.filter((m) => m.to && !Array.isArray(m.to) && m.to.value[0]?.address === to);

describe('with a mail server', () => {
  let smtp: TestSmtp;
  let h: Harness;
  beforeAll(async () => {
    smtp = await startSmtp({ reject: (to) => (to.startsWith('rejected') ? 550 : undefined) });
    h = await startWorker(smtp.port);
  });
  afterAll(async () => {
    await h.stop();
    await smtp.close();
  });

  it("when an mp3 message arrives, then one email to username with the original's line, the curl line and an HTML part", async () => {
    const to = uniqueEmail();
    const message = mp3Message(to);
    await h.publish(encodeMessage(message));
    await waitFor(() => mailsTo(smtp, to).length === 1, { what: 'the email' });
    const [mail] = mailsTo(smtp, to);
    expect(mail!.subject).toBe('MP3 Download');
    expect(mail!.from?.text).toContain('noreply@mp3converter.test');
    expect(mail!.text).toContain(`mp3 file_id: ${message.mp3_fid} is now ready!`);
    expect(mail!.text).toContain(`curl --output audio.mp3 -H "Authorization: Bearer <your token>" "http://mp3converter.com/download?fid=${message.mp3_fid}"`);
    expect(mail!.html).toContain(message.mp3_fid);
    expect(mail!.messageId).toBe(`<mp3-${message.mp3_fid}@mp3converter>`);
  });

  it('when the MP3 is ours, then the email names it, with its length and size, and carries a signed link, in text and HTML, that expires with it', async () => {
    const to = uniqueEmail();
    const expiresAt = new Date(Date.now() + 3 * 86_400_000);
    const mp3Fid = await storeGridFsFile(mongo, 'mp3s', Buffer.alloc(3 * 1024 * 1024), {
      filename: 'talk.mp3',
      metadata: { owner: to, durationSeconds: 125.4, expiresAt, contentType: 'audio/mpeg' },
    });
    const message = mp3Message(to, mp3Fid);
    await h.publish(encodeMessage(message));
    const mail = await waitFor(() => mailsTo(smtp, to)[0], { what: 'the email' });
    expect(mail.text).toContain('talk.mp3 (2 min 5 s, 3 MiB)');
    const url = new URL(/(http:\/\/mp3converter\.com\/download\?fid=\S+&sig=\S+)/.exec(mail.text ?? '')![1]!);
    expect(url.searchParams.get('fid')).toBe(mp3Fid);
    const expires = Number(url.searchParams.get('expires'));
    expect(expires).toBe(Math.floor(expiresAt.getTime() / 1000));
    expect(checkSignedLink({ mp3Fid, owner: to, expires }, url.searchParams.get('sig')!, TEST_LINK_SECRET)).toBe('valid');
    expect(mail.html).toContain(`href="${url.toString().replace(/&/g, '&amp;')}"`);
    expect(mail.text).toContain(`mp3 file_id: ${mp3Fid} is now ready!`);
  });

  it('when a job was split into several MP3s, then one email links the ZIP of all of them, signed for the owner until they expire', async () => {
    const to = uniqueEmail();
    const videoFid = new ObjectId().toHexString();
    const expiresAt = new Date(Date.now() + 3 * 86_400_000);
    const parts: string[] = [];
    for (const name of ['01 - One.mp3', '02 - Two.mp3', '03 - Three.mp3']) {
      parts.push(
        await storeGridFsFile(mongo, 'mp3s', Buffer.alloc(1024), { filename: name, metadata: { owner: to, videoFid, expiresAt, contentType: 'audio/mpeg' } }),
      );
    }
    await h.publish(encodeMessage({ video_fid: videoFid, mp3_fid: parts[0]!, username: to, mp3_fids: parts }));
    const mail = await waitFor(() => mailsTo(smtp, to)[0], { what: 'the email' });
    expect(mail.text).toContain('3 MP3s, one per chapter, are now ready!');
    const url = new URL(/(http:\/\/mp3converter\.com\/download\.zip\?fid=\S+&sig=\S+)/.exec(mail.text ?? '')![1]!);
    expect(url.searchParams.getAll('fid')).toEqual([videoFid]);
    const expires = Number(url.searchParams.get('expires'));
    expect(expires).toBe(Math.floor(expiresAt.getTime() / 1000));
    expect(checkSignedZipLink({ videoFids: [videoFid], owner: to, expires }, url.searchParams.get('sig')!, TEST_LINK_SECRET)).toBe('valid');
    await h.allHandled();
    expect(mailsTo(smtp, to)).toHaveLength(1);
  });

  it("when the original's message arrives with extra fields, then it is accepted", async () => {
    const to = uniqueEmail();
    const fid = new ObjectId().toHexString();
    await h.publish(`{"video_fid": "${new ObjectId().toHexString()}", "mp3_fid": "${fid}", "username": "${to}", "extra": 1}`);
    await waitFor(() => mailsTo(smtp, to).length === 1, { what: 'the email' });
  });

  it('when a conversion failed, then the user gets an email with the reason', async () => {
    const to = uniqueEmail();
    const video = new ObjectId().toHexString();
    await h.publish(
      encodeMessage({ video_fid: video, mp3_fid: null, username: to, status: 'failed', reason: 'the video has no audio track' }),
      h.queues.failed,
    );
    await waitFor(() => mailsTo(smtp, to).length === 1, { what: 'the failure email' });
    const [mail] = mailsTo(smtp, to);
    expect(mail!.subject).toBe('MP3 Download failed');
    expect(mail!.text).toContain('could not be converted to MP3: the video has no audio track');
    expect(mail!.text).toContain(video);
    expect(mail!.html).toContain('the video has no audio track');
  });

  it('when the same message is delivered twice, then only one email', async () => {
    const to = uniqueEmail();
    const message = mp3Message(to);
    await h.publish(encodeMessage(message));
    await waitFor(() => mailsTo(smtp, to).length === 1, { what: 'the first email' });
    await h.publish(encodeMessage(message));
    await h.allHandled();
    expect(mailsTo(smtp, to)).toHaveLength(1);
  });

  it('when earlier deliveries died mid-send as often as allowed, then the next is given up on and dead-lettered, and nothing is sent', async () => {
    const to = uniqueEmail();
    const message = mp3Message(to);
    // What four workers killed while sending left: a stale claim with four attempts counted.
    await sentLog().insertOne({ _id: `mp3:${message.mp3_fid}`, state: 'sending', claimed_at: new Date(Date.now() - 3_600_000), attempts: 4 });
    await h.publish(encodeMessage(message));
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(dead!.headers['x-dead-reason']).toBe('gave up after 4 attempts: the sending was interrupted every time');
    await h.allHandled();
    expect(mailsTo(smtp, to)).toHaveLength(0);
  });

  it('when the server rejects the recipient with 550, then the message is dead-lettered at once, not retried', async () => {
    const to = uniqueEmail('rejected');
    await h.publish(encodeMessage(mp3Message(to)));
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/refused the email.*550/);
    expect(smtp.attempts.filter((a) => a === to)).toHaveLength(1);
  });

  it.each([
    ['not JSON', 'nope'],
    ['missing mp3_fid', '{"video_fid": "65f0c0ffee00112233445566", "mp3_fid": null, "username": "a@b.c"}'],
    ['a username that is not an email address', `{"video_fid": "65f0c0ffee00112233445566", "mp3_fid": "65f0c0ffee00112233445567", "username": "georgio"}`],
  ])('when the message has %s, then it is dead-lettered with the reason and nothing is sent', async (_label, body) => {
    const before = smtp.mails.length;
    await h.publish(body);
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(dead!.raw.toString()).toBe(body);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/invalid message|not valid JSON|not an email address/);
    expect(smtp.mails.length).toBe(before);
  });

  /** A job as our gateway records it, converted: its MP3 stored as the converter stores it. */
  async function convertedJob(owner: string): Promise<{ videoFid: string; mp3Fid: string }> {
    const videoFid = new ObjectId().toHexString();
    await mongoJobStore(mongo).create({ videoFid, owner, filename: 'clip.mp4', size: 1000, contentType: 'video/mp4' });
    const mp3Fid = await storeGridFsFile(mongo, 'mp3s', Buffer.alloc(1000), { filename: 'clip.mp3', metadata: { owner, videoFid } });
    return { videoFid, mp3Fid };
  }

  /** `to` got nothing: no email, not even a try at the mail server. */
  const nothingTo = (to: string) => {
    expect(mailsTo(smtp, to)).toHaveLength(0);
    expect(smtp.attempts).not.toContain(to);
  };

  it("when an mp3 message names another user than the job's owner, then it is dead-lettered as owner_mismatch and no email leaves, to either of them", async () => {
    const owner = uniqueEmail('owner');
    const intruder = uniqueEmail('intruder');
    const { videoFid, mp3Fid } = await convertedJob(owner);
    const body = encodeMessage({ video_fid: videoFid, mp3_fid: mp3Fid, username: intruder });
    await h.publish(body);
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(dead!.raw.toString()).toBe(body.toString());
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/^owner_mismatch: /);
    await h.allHandled();
    nothingTo(intruder);
    nothingTo(owner);
  });

  it("when an mp3 message names the job's owner but an MP3 of someone else's, then it is dead-lettered and no email leaves", async () => {
    const owner = uniqueEmail('owner');
    const other = uniqueEmail('other');
    const { videoFid } = await convertedJob(owner);
    const { mp3Fid: theirs } = await convertedJob(other);
    await h.publish(encodeMessage({ video_fid: videoFid, mp3_fid: theirs, username: owner }));
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/^owner_mismatch: /);
    await h.allHandled();
    nothingTo(owner);
    nothingTo(other);
  });

  it("when an mp3 message names the owner's own MP3 of another video, then it is dead-lettered and no email leaves", async () => {
    const owner = uniqueEmail('owner');
    const first = await convertedJob(owner);
    const second = await convertedJob(owner);
    await h.publish(encodeMessage({ video_fid: first.videoFid, mp3_fid: second.mp3Fid, username: owner }));
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/^mp3_mismatch: /);
    await h.allHandled();
    nothingTo(owner);
  });

  it('when a message for a video the store does not know names an MP3 stored for someone else, then it is dead-lettered and no email leaves', async () => {
    const intruder = uniqueEmail('intruder');
    const { mp3Fid } = await convertedJob(uniqueEmail('owner'));
    await h.publish(encodeMessage({ video_fid: new ObjectId().toHexString(), mp3_fid: mp3Fid, username: intruder }));
    const [dead] = await collect(`${h.queues.mp3}.dead`, 1);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/^(owner|mp3)_mismatch: /);
    await h.allHandled();
    nothingTo(intruder);
  });

  it("when a failure message names another user than the job's owner, then it is dead-lettered as owner_mismatch and no email leaves", async () => {
    const owner = uniqueEmail('owner');
    const intruder = uniqueEmail('intruder');
    const { videoFid } = await convertedJob(owner);
    await h.publish(
      encodeMessage({ video_fid: videoFid, mp3_fid: null, username: intruder, status: 'failed', reason: 'the video has no audio track' }),
      h.queues.failed,
    );
    const [dead] = await collect(`${h.queues.failed}.dead`, 1);
    expect(String(dead!.headers['x-dead-reason'])).toMatch(/^owner_mismatch: /);
    await h.allHandled();
    nothingTo(intruder);
    nothingTo(owner);
  });

  it("when the job's owner is named with the job's own MP3, then the owner gets the email", async () => {
    const owner = uniqueEmail('owner');
    const { videoFid, mp3Fid } = await convertedJob(owner);
    await h.publish(encodeMessage({ video_fid: videoFid, mp3_fid: mp3Fid, username: owner }));
    const mail = await waitFor(() => mailsTo(smtp, owner)[0], { what: 'the email' });
    expect(mail.text).toContain(`mp3 file_id: ${mp3Fid} is now ready!`);
  });

  it('when the worker runs, then /readyz checks Mongo and RabbitMQ', async () => {
    const res = await fetch(`${h.worker.http.url}/readyz`);
    expect(await res.json()).toEqual({ status: 'ready', checks: { mongodb: 'ok', rabbitmq: 'ok' } });
  });
});

describe('the sent-log', () => {
  it('when the worker starts, then entries sent or claimed longer ago than SENT_LOG_RETENTION_DAYS go, and recent ones stay', async () => {
    const day = 86_400_000;
    const old = new Date(Date.now() - 31 * day);
    const recent = new Date(Date.now() - 29 * day);
    const ids = { oldSent: uniqueName('old-sent'), oldClaim: uniqueName('old-claim'), recentSent: uniqueName('recent-sent'), now: uniqueName('now') };
    await mongo
      .db('notifications')
      .collection<{ _id: string; state: string; claimed_at: Date | null; sent_at?: Date }>('sent')
      .insertMany([
        { _id: ids.oldSent, state: 'sent', claimed_at: old, sent_at: old },
        { _id: ids.oldClaim, state: 'pending', claimed_at: old },
        { _id: ids.recentSent, state: 'sent', claimed_at: recent, sent_at: recent },
        { _id: ids.now, state: 'sending', claimed_at: new Date() },
      ]);
    const smtp = await startSmtp();
    const h = await startWorker(smtp.port);
    try {
      const left = async () =>
        (
          await sentLog()
            .find({ _id: { $in: Object.values(ids) } })
            .toArray()
        )
          .map((d) => d._id)
          .sort();
      await waitFor(async () => (await left()).length === 2, { what: 'the old entries to go' });
      expect(await left()).toEqual([ids.now, ids.recentSent].sort());
    } finally {
      await h.stop();
      await smtp.close();
      await sentLog().deleteMany({ _id: { $in: Object.values(ids) } });
    }
  });
});

describe('behind a converter', () => {
  it("when the original's three-field message names a video stored the original's way, then it converts and its owner gets the email", async () => {
    const smtp = await startSmtp();
    const h = await startWorker(smtp.port);
    const queues = { video: uniqueName('video'), mp3: h.queues.mp3, failed: h.queues.failed };
    const converter = await startConverter(queues);
    const made = await makeVideo({ seconds: 2 });
    try {
      const to = uniqueEmail();
      const fid = await storeVideoAsOriginal(mongo, await readFile(made.path));
      // Byte for byte what the original's gateway published (Python's json.dumps).
      await publishRaw(rabbit(), queues.video, `{"video_fid": "${fid}", "mp3_fid": null, "username": "${to}"}`);
      const mail = await waitFor(() => mailsTo(smtp, to)[0], { timeoutMs: 30_000, what: 'the email' });
      expect(mail.subject).toBe('MP3 Download');
      expect(mail.text).toContain(`mp3 file_id: ${mp3IdFor(fid)} is now ready!`);
    } finally {
      await converter.worker.stop(1_000);
      await deleteQueues(rabbit(), queues.video, `${queues.video}.dead`, `${queues.video}.retry.200ms`, `${queues.video}.retry.400ms`);
      await h.stop();
      await smtp.close();
      await made.cleanup();
    }
  });
});

describe('without a mail server', () => {
  it('when SMTP is down, then the email is retried with backoff and sent once it is back', async () => {
    const port = await freePort();
    const h = await startWorker(port);
    let smtp: TestSmtp | undefined;
    try {
      const to = uniqueEmail();
      const message = mp3Message(to);
      await h.publish(encodeMessage(message));
      await waitFor(async () => (await sentLog().findOne({ _id: `mp3:${message.mp3_fid}`, state: 'pending' })) !== null, { what: 'a failed attempt' });
      smtp = await startSmtp({ port });
      await waitFor(() => mailsTo(smtp!, to).length === 1, { timeoutMs: 10_000, what: 'the email after SMTP is back' });
      await h.allHandled();
      expect(mailsTo(smtp, to)).toHaveLength(1);
      expect(await drainQueue(rabbit(), `${h.queues.mp3}.dead`)).toEqual([]);
    } finally {
      await h.stop();
      await smtp?.close();
    }
  });

  it('when SMTP stays down, then after the last retry the message is dead-lettered', async () => {
    const h = await startWorker(await freePort());
    try {
      await h.publish(encodeMessage(mp3Message(uniqueEmail())));
      const [dead] = await collect(`${h.queues.mp3}.dead`, 1, 20_000);
      expect(String(dead!.headers['x-dead-reason'])).toMatch(/gave up after 4 attempts: the mail server could not be reached/);
      expect(dead!.headers['x-retry-count']).toBe(3);
    } finally {
      await h.stop();
    }
  });
});

describe('with a mail server that defers or hangs', () => {
  const retried = async (h: Harness) => metricValue(await scrape(h.worker.http.url), 'notification_emails_total', { queue: h.queues.mp3, result: 'retried' });

  it('when the mail server answers 451 and later takes the email, then it is retried and sent exactly once', async () => {
    const smtp = await startSmtp({ mode: 'defer' });
    const h = await startWorker(smtp.port);
    try {
      const to = uniqueEmail();
      await h.publish(encodeMessage(mp3Message(to)));
      await waitFor(async () => (await retried(h)) >= 1, { what: 'a retry after the 451' });
      expect(smtp.attempts.filter((a) => a === to).length).toBeGreaterThanOrEqual(1);
      expect(mailsTo(smtp, to)).toHaveLength(0);
      smtp.mode = 'accept';
      await h.allHandled();
      expect(mailsTo(smtp, to)).toHaveLength(1);
      expect(smtp.attempts.filter((a) => a === to).length).toBeGreaterThanOrEqual(2);
      expect(await drainQueue(rabbit(), `${h.queues.mp3}.dead`)).toEqual([]);
    } finally {
      await h.stop();
      await smtp.close();
    }
  });

  it('when the mail server never answers, then the attempt times out, is retried, and the email is sent exactly once when the server answers again', async () => {
    const smtp = await startSmtp({ mode: 'silent' });
    const h = await startWorker(smtp.port);
    try {
      const to = uniqueEmail();
      await h.publish(encodeMessage(mp3Message(to)));
      await waitFor(async () => (await retried(h)) >= 1, { what: 'a retry after the timeout' });
      expect(smtp.connections).toBeGreaterThanOrEqual(1);
      expect(smtp.attempts).toEqual([]);
      // The retry is counted before its log line is written: wait for the line, do not race it.
      await waitFor(() => h.lines().some((l) => /could not be reached: ETIMEDOUT/.test(String(l.reason))), { what: 'the timeout in the log' });
      smtp.mode = 'accept';
      await h.allHandled();
      expect(mailsTo(smtp, to)).toHaveLength(1);
      expect(await drainQueue(rabbit(), `${h.queues.mp3}.dead`)).toEqual([]);
    } finally {
      await h.stop();
      await smtp.close();
    }
  });
});
