import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobListCache } from '../src/jobs/list-cache.js';
import { type MongoJobStoreOptions, ensureJobIndexes, jobsCollection, mongoJobStore } from '../src/jobs/mongo.js';
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

/** Every page, following the cursor while more follow, as the service does. */
async function walk(owner: string, limit: number, from = store): Promise<string[][]> {
  const pages: string[][] = [];
  let before: string | undefined;
  for (;;) {
    const page = await from.list(owner, { limit, before });
    if (!page) throw new Error(`cursor ${before} refused`);
    const shown = page.jobs.map((j) => j.videoFid);
    pages.push(shown);
    if (!page.more) return pages;
    before = shown.at(-1);
  }
}

const fidsOf = (page: { jobs: { videoFid: string }[] } | undefined) => page?.jobs.map((j) => j.videoFid);

/**
 * The filter, sort and limit of every find on the jobs the store sends while `act` runs, as the server got them;
 * `watch` forgets those sent before it.
 */
async function findsOn(
  act: (watched: ReturnType<typeof mongoJobStore>, watch: () => void) => Promise<unknown>,
  options: MongoJobStoreOptions = {},
): Promise<Record<string, unknown>[]> {
  // Command monitoring is the driver's public API: what the server was asked, as sent.
  const watched = new MongoClient(inject('servers').mongoUrl, { monitorCommands: true });
  const finds: Record<string, unknown>[] = [];
  watched.on('commandStarted', (e) => {
    if (e.commandName !== 'find' || e.command.find !== 'jobs') return;
    const { filter, sort, limit } = e.command;
    finds.push({ filter, sort: sort instanceof Map ? Object.fromEntries(sort) : sort, limit });
  });
  try {
    await act(mongoJobStore(watched, options), () => {
      finds.length = 0;
    });
  } finally {
    await watched.close();
  }
  return finds;
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
    expect(fidsOf(page)).toEqual([...fids].reverse().slice(0, LIST_PAGE_JOBS + 20));
  });

  it('when jobs are recorded between two pages, then the next page neither repeats nor skips any job there was', async () => {
    const first = fidsOf(await store.list(owner, { limit: 30 })) ?? [];
    const added = await recordMany(owner, 3);
    const rest = fidsOf(await store.list(owner, { limit: 1000, before: first.at(-1) })) ?? [];
    const seen = [...first, ...rest];
    expect(seen).toEqual([...fids].reverse());
    expect(seen).not.toEqual(expect.arrayContaining(added));
    fids.push(...added);
  });

  it('when a page is listed, then every read is bounded by an equality on owner and list page, never the whole history', async () => {
    const finds = await findsOn(async (listed) => {
      const first = await listed.list(owner, { limit: 20 });
      await listed.list(owner, { limit: 20, before: first?.jobs[19]?.videoFid });
    });
    const pageReads = finds.filter((f) => 'list_page' in (f.filter as object) || !('_id' in (f.filter as object))); // all but the cursor's lookup
    expect(pageReads.length).toBeGreaterThan(1);
    for (const { filter } of pageReads) expect(filter).toMatchObject({ owner, list_page: expect.any(Number) });
  });

  it('when the cursor is another user’s job or no job at all, then the list refuses it and shows nothing', async () => {
    const stranger = uniqueEmail('stranger');
    const [theirs] = await recordMany(stranger, 1);
    expect(await store.list(owner, { limit: 5, before: theirs })).toBeUndefined();
    expect(await store.list(owner, { limit: 5, before: new ObjectId().toHexString() })).toBeUndefined();
    expect(await store.list(stranger, { limit: 5, before: fids[3] })).toBeUndefined();
  });
});

describe('a user with 1,000 jobs', () => {
  const owner = uniqueEmail('thousand');
  const fids: string[] = [];
  beforeAll(async () => {
    // One after the other, as one user's uploads mostly are; another user's jobs recorded in between.
    for (let i = 0; i < 1000; i++) {
      fids.push((await record(owner)).videoFid);
      if (i % 250 === 0) await recordMany(uniqueEmail('neighbour'), 2);
    }
  }, 600_000);

  it('when the owner walks the list 20 at a time, then 50 full pages come, newest first, every job once, and the last says none follow', async () => {
    let pages: string[][] = [];
    const finds = await findsOn(async (watched) => {
      pages = await walk(owner, 20, watched);
    });
    expect(pages).toHaveLength(50);
    expect(pages.every((p) => p.length === 20)).toBe(true);
    expect(pages.flat()).toEqual([...fids].reverse());
    // The last page too: no read goes through the owner's whole history.
    for (const { filter } of finds) if (!('_id' in (filter as object))) expect(filter).toMatchObject({ owner, list_page: expect.any(Number) });
  });

  it('when the first 20 are listed, then one list page is read whole and of the page below only whether one job is there', async () => {
    const finds = await findsOn((listed) => listed.list(owner, { limit: 20 }));
    const newest = Math.ceil(1000 / LIST_PAGE_JOBS);
    expect(finds).toEqual([
      { filter: { owner, list_page: newest, deleted_at: null }, sort: { _id: -1 }, limit: undefined },
      { filter: { owner, list_page: newest - 1, deleted_at: null }, sort: undefined, limit: 1 },
    ]);
  });

  it('when a page is asked for from a cursor deep in the list, then it holds the jobs just older than the cursor', async () => {
    const page = await store.list(owner, { limit: 7, before: fids[503] });
    expect(page).toMatchObject({ more: true });
    expect(fidsOf(page)).toEqual(fids.slice(496, 503).reverse());
    const last = await store.list(owner, { limit: 20, before: fids[5] });
    expect(fidsOf(last)).toEqual(fids.slice(0, 5).reverse());
    expect(last?.more).toBe(false);
  });
});

describe('a list kept by the gateway’s list cache', () => {
  it('when finished jobs are listed again unchanged, then no job is read; once another process deletes one, it is read again and gone', async () => {
    const owner = uniqueEmail('cached');
    const fids = await recordMany(owner, LIST_PAGE_JOBS + 5);
    await jobsCollection(mongo).updateMany({ owner }, { $set: { state: 'done' } });
    let first: string[] | undefined;
    let again: string[] | undefined;
    const unchanged = await findsOn(
      async (cached, watch) => {
        first = fidsOf(await cached.list(owner, { limit: 20 }));
        watch();
        again = fidsOf(await cached.list(owner, { limit: 20 }));
      },
      { listCache: new JobListCache(1 << 20) },
    );
    expect(first).toEqual([...fids].reverse().slice(0, 20));
    expect(again).toEqual(first);
    expect(unchanged).toEqual([]);

    const afterDelete = await findsOn(
      async (cached, watch) => {
        await cached.list(owner, { limit: 20 });
        await store.markDeleted(fids.at(-1) ?? '');
        watch();
        again = fidsOf(await cached.list(owner, { limit: 20 }));
      },
      { listCache: new JobListCache(1 << 20) },
    );
    expect(again).toEqual([...fids].reverse().slice(1, 21));
    expect(afterDelete.length).toBeGreaterThan(0);
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
    expect(fidsOf(await store.list(owner, { limit: 10 }))).toEqual([fids[3], fids[0]]);
    expect(fidsOf(await store.list(owner, { limit: 10, before: fids[2] }))).toEqual([fids[0]]);
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
    await ensureJobIndexes(mongo); // as the next start does: it puts them on the last list page, 0
    const later = await recordMany(owner, 2);
    const finds = await findsOn(async (watched) => {
      const pages = await walk(owner, 1, watched);
      expect(pages.flat()).toEqual([later[1], later[0], early[1]?.toHexString(), early[0]?.toHexString()]);
    });
    // Every read, to the list's end, an equality on the list page that FerretDB hands on.
    for (const { filter } of finds) if (!('_id' in (filter as object))) expect(filter).toMatchObject({ owner, list_page: expect.any(Number) });
  });

  it('when a user’s first uploads are recorded all at once, then every one is listed', async () => {
    const owner = uniqueEmail('burst');
    const fids = (await Promise.all(Array.from({ length: 12 }, () => record(owner)))).map((j) => j.videoFid);
    const listed = (await walk(owner, 5)).flat();
    expect([...listed].sort()).toEqual([...fids].sort());
  });

  it('when a user has no jobs, then the list is empty', async () => {
    expect(await store.list(uniqueEmail('nobody'), { limit: 20 })).toEqual({ jobs: [], more: false });
  });
});
