import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureJobIndexes, jobsCollection, mongoJobStore } from '../src/jobs/mongo.js';
import { LIST_PAGE_JOBS } from '../src/jobs/store.js';
import { MongoClient, ObjectId, createMongoClient } from '../src/storage/index.js';
import { uniqueEmail } from '../src/testing/index.js';

const mongo = createMongoClient(inject('servers').mongoUrl, 'shared-test');
const store = mongoJobStore(mongo);
beforeAll(() => ensureJobIndexes(mongo));
afterAll(() => mongo.close());

const record = (owner: string, videoFid = new ObjectId().toHexString()) =>
  store.create({ videoFid, owner, filename: 'talk.mp4', size: 1, contentType: 'video/mp4' });

async function recordMany(owner: string, n: number): Promise<string[]> {
  const fids: string[] = [];
  for (let i = 0; i < n; i++) fids.push((await record(owner)).videoFid);
  return fids;
}

/** Every page, following the cursor, as the service asks (one job more than it shows). */
async function walk(owner: string, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let before: string | undefined;
  for (;;) {
    const page = await store.list(owner, { limit: limit + 1, before });
    if (!page) throw new Error(`cursor ${before} refused`);
    const shown = page.slice(0, limit).map((j) => j.videoFid);
    pages.push(shown);
    if (page.length <= limit) return pages;
    before = shown.at(-1);
  }
}

describe('the owner’s job list', () => {
  const owner = uniqueEmail('lister');
  let fids: string[];
  beforeAll(async () => {
    // More than two list pages, with another user's jobs recorded in between.
    fids = await recordMany(owner, LIST_PAGE_JOBS + 30);
    await recordMany(uniqueEmail('other'), 5);
    fids.push(...(await recordMany(owner, LIST_PAGE_JOBS - 5)));
  }, 120_000);

  it('when the owner walks the list by cursor, then every job of theirs comes once, newest first, and nobody else’s', async () => {
    const pages = await walk(owner, 20);
    expect(pages.flat()).toEqual([...fids].reverse());
    expect(pages.slice(0, -1).every((p) => p.length === 20)).toBe(true);
  });

  it('when the limit is larger than a list page, then one answer still holds that many, across pages', async () => {
    const page = await store.list(owner, { limit: LIST_PAGE_JOBS + 20 });
    expect(page?.map((j) => j.videoFid)).toEqual([...fids].reverse().slice(0, LIST_PAGE_JOBS + 20));
  });

  it('when jobs are recorded between two pages, then the next page neither repeats nor skips any job there was', async () => {
    const first = await store.list(owner, { limit: 31 });
    const cursor = first?.[29]?.videoFid;
    const added = await recordMany(owner, 3);
    const rest = (await store.list(owner, { limit: 1000, before: cursor })) ?? [];
    const seen = [...(first ?? []).slice(0, 30), ...rest].map((j) => j.videoFid);
    expect(seen).toEqual([...fids].reverse());
    expect(seen).not.toEqual(expect.arrayContaining(added));
    fids.push(...added);
  });

  it('when a page is listed, then every read is bounded by an equality on owner and list page, never the whole history', async () => {
    // Command monitoring is the driver's public API: what the server was asked, as sent.
    const watched = new MongoClient(inject('servers').mongoUrl, { monitorCommands: true });
    const finds: Record<string, unknown>[] = [];
    watched.on('commandStarted', (e) => {
      if (e.commandName === 'find' && e.command.find === 'jobs') finds.push(e.command.filter as Record<string, unknown>);
    });
    try {
      const listed = mongoJobStore(watched);
      const first = await listed.list(owner, { limit: 21 });
      await listed.list(owner, { limit: 21, before: first?.[19]?.videoFid });
    } finally {
      await watched.close();
    }
    const pageReads = finds.filter((f) => 'list_page' in f || !('_id' in f)); // all but the cursor's lookup
    expect(pageReads.length).toBeGreaterThan(1);
    for (const filter of pageReads) expect(filter).toMatchObject({ owner, list_page: expect.any(Number) });
  });

  it('when the cursor is another user’s job or no job at all, then the list refuses it and shows nothing', async () => {
    const stranger = uniqueEmail('stranger');
    const [theirs] = await recordMany(stranger, 1);
    expect(await store.list(owner, { limit: 5, before: theirs })).toBeUndefined();
    expect(await store.list(owner, { limit: 5, before: new ObjectId().toHexString() })).toBeUndefined();
    expect(await store.list(stranger, { limit: 5, before: fids[3] })).toBeUndefined();
  });
});

describe('jobs the list does not show', () => {
  it('when a job was deleted by its owner, then it is left out, and a cursor on it still leads on', async () => {
    const owner = uniqueEmail('deleter');
    const fids = await recordMany(owner, 4);
    for (const fid of fids.slice(1, 3)) {
      await jobsCollection(mongo).updateOne({ _id: new ObjectId(fid) }, { $set: { state: 'done' } });
      await store.markDeleted(fid);
    }
    expect((await store.list(owner, { limit: 10 }))?.map((j) => j.videoFid)).toEqual([fids[3], fids[0]]);
    expect((await store.list(owner, { limit: 10, before: fids[2] }))?.map((j) => j.videoFid)).toEqual([fids[0]]);
  });

  it('when jobs were recorded before list pages existed, then they come after the others, newest first', async () => {
    const owner = uniqueEmail('early');
    const early = [new ObjectId(), new ObjectId()];
    const now = new Date();
    await jobsCollection(mongo).insertMany(
      early.map((_id) => ({
        _id,
        owner,
        filename: null,
        state: 'done' as const,
        reason: null,
        mp3_fid: null,
        deleted_at: null,
        created_at: now,
        updated_at: now,
      })),
    );
    const later = await recordMany(owner, 2);
    const pages = await walk(owner, 1);
    expect(pages.flat()).toEqual([later[1], later[0], early[1]?.toHexString(), early[0]?.toHexString()]);
  });

  it('when a user’s first uploads are recorded all at once, then every one is listed', async () => {
    const owner = uniqueEmail('burst');
    const fids = (await Promise.all(Array.from({ length: 12 }, () => record(owner)))).map((j) => j.videoFid);
    const listed = (await walk(owner, 5)).flat();
    expect([...listed].sort()).toEqual([...fids].sort());
  });

  it('when a user has no jobs, then the list is empty', async () => {
    expect(await store.list(uniqueEmail('nobody'), { limit: 20 })).toEqual([]);
  });
});
