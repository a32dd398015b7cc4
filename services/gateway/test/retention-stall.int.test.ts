import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { ObjectId } from '@mp3converter/shared/storage';
import { storeGridFsFile, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, signIn, startStack } from './harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ RETENTION_SWEEP_INTERVAL_MS: '3600000' });
});
afterAll(async () => {
  await stack?.stop();
});

/** A finished job of `owner` whose MP3 (`bytes` long) expired `agoMs` ago: its ids. */
async function expiredJob(owner: string, bytes: number, agoMs: number): Promise<{ fid: string; mp3Fid: string }> {
  const fid = new ObjectId().toHexString();
  const mp3Fid = await storeGridFsFile(stack.mongo, 'mp3s', randomBytes(bytes), { filename: 'long.mp3', metadata: { owner } });
  await mongoJobStore(stack.mongo).create({ videoFid: fid, owner, filename: 'long.mp4', size: 1, contentType: 'video/mp4' });
  await stack.mongo
    .db('videos')
    .collection('jobs')
    .updateOne({ _id: new ObjectId(fid) }, { $set: { state: 'done', mp3_fid: mp3Fid, expires_at: new Date(Date.now() - agoMs), finished_at: new Date() } });
  return { fid, mp3Fid };
}

/** A client that asks for the MP3 and then reads nothing: the gateway's writes back up and the download never ends. */
function stuckDownload(authorization: string, mp3Fid: string): net.Socket {
  const socket = net.connect(stack.gateway.http.port, '127.0.0.1');
  socket.write(`GET /download?fid=${mp3Fid} HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${authorization}\r\n\r\n`);
  socket.once('data', () => socket.pause());
  return socket;
}

const mp3Count = (mp3Fid: string) =>
  stack.mongo
    .db('mp3s')
    .collection('fs.files')
    .countDocuments({ _id: new ObjectId(mp3Fid) });

describe('a download that never ends does not keep an expired MP3', () => {
  it('when a client stops reading an MP3 long past its expiry, then the sweep still removes it, in bounded time', async () => {
    const user = await signIn(stack);
    // Far larger than what the sockets' buffers take in: the gateway is left with most of it to send.
    const { fid, mp3Fid } = await expiredJob(user.email, 24 * 1024 * 1024, 3_600_000);
    const socket = stuckDownload(user.authorization, mp3Fid);
    try {
      await waitFor(async () => (await stack.mongo.db('mp3s').collection('downloads').countDocuments({ mp3_fid: mp3Fid })) > 0, {
        what: 'the download to be under way',
      });
      const started = Date.now();
      expect(await stack.gateway.retention.sweep()).toBeGreaterThanOrEqual(1);
      // A loaded machine deletes 24 MiB of chunks in well under this.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(await mp3Count(mp3Fid)).toBe(0);
      const job = await mongoJobStore(stack.mongo).get(fid);
      expect(job?.expiredAt).toBeInstanceOf(Date);
    } finally {
      socket.destroy();
    }
  });
});
