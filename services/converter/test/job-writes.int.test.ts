import { jobsCollection, mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { ObjectId } from 'mongodb';
import type { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoClient } from './harness.js';

let mongo: MongoClient;
beforeAll(async () => {
  mongo = mongoClient();
  await mongo.connect();
});
afterAll(async () => {
  await mongo.close();
});

/**
 * A worker writes one job's document from several places at once: the lease's renewal timer, the encoder's
 * progress, and the runner's own steps. A MongoDB-wire server that applies an update as a read and then a
 * write of the whole document (FerretDB v1) lets a write that read before another and wrote after it undo
 * that one, so a job marked done went back to `converting`.
 */
describe('one worker writing one job from several places at once', () => {
  it('when renewals and progress race the end of a job, then the job ends done, not converting', async () => {
    const store = mongoJobStore(mongo);
    const leases = mongoJobStore(mongo, { worker: { id: `worker-${new ObjectId().toHexString()}`, leaseMs: 60_000 } });
    const owner = `writes-${new ObjectId().toHexString()}@example.com`;
    const fids = Array.from({ length: 12 }, () => new ObjectId().toHexString());
    for (const videoFid of fids) await store.create({ videoFid, owner, filename: 'a.mp4', size: 1, contentType: 'video/mp4' });
    for (const videoFid of fids) expect(await leases.claim(videoFid, owner, { maxAttempts: 3, revive: false })).toMatchObject({ status: 'claimed' });

    await Promise.all(
      fids.map(async (videoFid) => {
        // As the runner's timers do: renewals and progress keep coming while the job ends.
        let ended = false;
        const background = (async () => {
          while (!ended) await Promise.all([leases.renew(videoFid), leases.recordProgress(videoFid, { percent: 99, speed: 100, etaSeconds: 1 })]);
        })();
        expect(await leases.markFinishing(videoFid)).toBe(true);
        await leases.markDone(videoFid, {
          mp3s: [{ fid: new ObjectId().toHexString(), title: null, durationSeconds: 1, size: 1 }],
          expiresAt: new Date(Date.now() + 60_000),
        });
        ended = true;
        await background;
      }),
    );

    const states = await jobsCollection(mongo)
      .find({ _id: { $in: fids.map((f) => new ObjectId(f)) } })
      .toArray();
    expect(states.map((d) => d.state)).toEqual(fids.map(() => 'done'));
    expect(states.every((d) => d.worker === null && d.lease_until === null)).toBe(true);
    await jobsCollection(mongo).deleteMany({ owner });
  });
});
