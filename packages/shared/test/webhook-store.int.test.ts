import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMongoClient } from '../src/storage/index.js';
import { uniqueEmail, uniqueName } from '../src/testing/index.js';
import { type ClaimedDelivery, WebhookStore, deliveryIdOf } from '../src/webhooks/index.js';

/* The webhook store against the real MongoDB-wire server, in a database of this file's own. */
const database = uniqueName('webhooks');
const mongo = createMongoClient(inject('servers').mongoUrl, 'shared-test');
const store = new WebhookStore(mongo, database);
beforeAll(() => store.ensureIndexes());
afterAll(async () => {
  await mongo.db(database).dropDatabase();
  await mongo.close();
});

const FID = 'c'.repeat(24);
const attempt = (at: Date, status = 503) => ({
  at,
  outcome: 'http_error' as const,
  status,
  duration_ms: 5,
  error: null,
  response_excerpt: 'x',
});

/** An owner with one endpoint and one delivery due now. */
async function oneDelivery(now = new Date()) {
  const owner = uniqueEmail('hooks');
  const made = await store.register({ owner, url: 'https://93.184.216.34/', events: ['job.done'], description: null }, 5, now);
  const id = deliveryIdOf(made!.view.id, FID, 'job.done');
  await store.addDelivery({ id, endpointId: made!.view.id, owner, event: 'job.done', videoFid: FID, payload: '{}' }, now);
  return { owner, endpointId: made!.view.id, secret: made!.secret, id };
}

/** Claims until the given delivery comes up (others' deliveries due in the same database are let go again). */
async function claimOwn(id: string, leaseMs: number, now: Date): Promise<ClaimedDelivery | undefined> {
  for (let i = 0; i < 50; i++) {
    const claim = await store.claimDue(leaseMs, now);
    if (!claim || claim.id === id) return claim;
  }
  return undefined;
}

describe('the webhook store', () => {
  it('when a delivery is claimed, then nobody else can claim it while the lease lasts, and anyone can once it has run out', async () => {
    const now = new Date();
    const { id, secret } = await oneDelivery(now);
    const first = await claimOwn(id, 60_000, now);
    expect(first).toMatchObject({ id, secrets: [secret], payload: '{}', seriesAttempts: 0 });
    expect(await claimOwn(id, 60_000, new Date(now.getTime() + 59_000))).toBeUndefined();
    const taken = await claimOwn(id, 60_000, new Date(now.getTime() + 61_000));
    expect(taken?.id).toBe(id);
    // The worker that lost its lease cannot record over the one that took it.
    expect(await store.recordAttempt(first!, attempt(now), { state: 'delivered' })).toBe(false);
    expect(await store.recordAttempt(taken!, attempt(now, 200), { state: 'delivered' })).toBe(true);
  });

  it('when ten workers claim at once, then each due delivery goes to exactly one of them', async () => {
    const now = new Date(Date.now() + 3_600_000);
    const owner = uniqueEmail('many');
    const made = await store.register({ owner, url: 'https://93.184.216.34/', events: ['job.done'], description: null }, 5, now);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const videoFid = String(i).repeat(24);
      const id = deliveryIdOf(made!.view.id, videoFid, 'job.done');
      ids.push(id);
      await store.addDelivery({ id, endpointId: made!.view.id, owner, event: 'job.done', videoFid, payload: '{}' }, now);
    }
    const claims = (await Promise.all(Array.from({ length: 10 }, () => store.claimDue(60_000, now)))).filter((c) => c !== undefined);
    const mine = claims.map((c) => c.id).filter((id) => ids.includes(id));
    expect(new Set(mine).size).toBe(mine.length);
    for (const claim of claims) await store.recordAttempt(claim, attempt(now, 200), { state: 'delivered' });
  });

  it('when a redelivery is asked for during an attempt, then it is refused as in progress; after it, the delivery is due again with a new run', async () => {
    const now = new Date();
    const { owner, endpointId, id } = await oneDelivery(now);
    const claim = await claimOwn(id, 60_000, now);
    expect(await store.redeliver(owner, endpointId, id, now)).toBe('in-progress');
    await store.recordAttempt(claim!, attempt(now), { state: 'failed' });
    const later = new Date(now.getTime() + 1_000);
    expect(await store.redeliver(owner, endpointId, id, later)).toMatchObject({ id, state: 'pending', attempts: 1, next_attempt_at: later.toISOString() });
    const again = await claimOwn(id, 60_000, later);
    expect(again).toMatchObject({ id, seriesAttempts: 0, seriesStartedAt: later });
    expect(await store.redeliver(uniqueEmail('other'), endpointId, id, later)).toBe('not-found');
  });

  it('when an attempt has written its outcome but not yet let go of its lease, then a redelivery is taken (no attempt is under way)', async () => {
    const now = new Date();
    const { owner, endpointId, id } = await oneDelivery(now);
    await claimOwn(id, 60_000, now);
    // recordAttempt's first step alone: the outcome written, the lease still held.
    await mongo
      .db(database)
      .collection('deliveries')
      .updateOne({ _id: id as never }, { $set: { state: 'failed' } });
    expect(await store.redeliver(owner, endpointId, id, now)).toMatchObject({ id, state: 'pending' });
  });

  it('when the same delivery is added twice, then the second changes nothing', async () => {
    const { owner, endpointId, id } = await oneDelivery();
    expect(await store.addDelivery({ id, endpointId, owner, event: 'job.done', videoFid: FID, payload: '{"other":1}' })).toBe(false);
    expect((await store.getDelivery(owner, endpointId, id))?.payload).toBe('{}');
  });

  it('when a secret is rotated, then both sign until the overlap ends, then the new one alone', async () => {
    const now = new Date(Date.now() + 7_200_000);
    const { owner, endpointId, id, secret } = await oneDelivery(now);
    const rotated = await store.rotateSecret(owner, endpointId, 60_000, now);
    const during = await claimOwn(id, 1_000, now);
    expect(during?.secrets).toEqual([rotated!.secret, secret]);
    const after = await claimOwn(id, 1_000, new Date(now.getTime() + 61_000));
    expect(after?.secrets).toEqual([rotated!.secret]);
    await store.recordAttempt(after!, attempt(now, 200), { state: 'delivered' });
  });

  it('when an endpoint is removed while a delivery of it is due, then the delivery is dropped, not made', async () => {
    const now = new Date(Date.now() + 10_800_000);
    const { owner, endpointId, id } = await oneDelivery(now);
    expect(await store.remove(owner, endpointId)).toBe(true);
    expect(await claimOwn(id, 1_000, now)).toBeUndefined();
  });

  it('when old deliveries and expired upload endpoints are pruned, then they go with their attempts, and pending ones stay', async () => {
    const past = new Date('2020-01-01T00:00:00Z');
    const owner = uniqueEmail('prune');
    const job = await store.registerForJob({ owner, url: 'https://93.184.216.34/', videoFid: FID, expiresAt: new Date(past.getTime() + 1_000) }, past);
    const kept = await oneDelivery(past);
    const done = await oneDelivery(past);
    const claim = await claimOwn(done.id, 1_000, past);
    await store.recordAttempt(claim!, attempt(past, 200), { state: 'delivered' });
    await store.prune(new Date(past.getTime() + 60_000), new Date(past.getTime() + 60_000));
    expect(await store.get(owner, job.view.id)).toBeUndefined();
    expect(await store.getDelivery(done.owner, done.endpointId, done.id)).toBeUndefined();
    expect(await store.getDelivery(kept.owner, kept.endpointId, kept.id)).toMatchObject({ state: 'pending' });
  });
});
