import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer } from 'node:net';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  GridFSBucket,
  GridFsChunkWriter,
  ObjectId,
  createMongoClient,
  deleteGridFsFile,
  ensureGridFsIndexes,
  openGridFsDownload,
  pingMongo,
  readGridFsChunks,
} from '../src/storage/index.js';
import { captureLogger, storeGridFsFile, uniqueName, waitFor } from '../src/testing/index.js';

const mongo = createMongoClient(inject('servers').mongoUrl, 'shared-test');
const database = uniqueName('storage_test');
const db = mongo.db(database);
afterAll(async () => {
  await db.dropDatabase();
  await mongo.close();
});

const fileDoc = async (id: string) => (await new GridFSBucket(db).find({ _id: new ObjectId(id) }).next())!;

describe('openGridFsDownload', () => {
  const data = randomBytes(1_000_000); // four chunks of 255 KiB and a short fifth

  it('when a whole multi-chunk file is read, then every byte comes back in order', async () => {
    const file = await fileDoc(await storeGridFsFile(mongo, database, data, { filename: 'a' }));
    expect((await buffer(openGridFsDownload(db, file))).equals(data)).toBe(true);
  });

  it.each([
    [0, 1],
    [261_000, 261_200],
    [100, 600_000],
    [999_000, 1_000_000],
    [261_120, 522_240],
  ])('when bytes %i to %i are asked, then exactly those', async (start, end) => {
    const file = await fileDoc(await storeGridFsFile(mongo, database, data, { filename: 'b' }));
    expect((await buffer(openGridFsDownload(db, file, { start, end }))).equals(data.subarray(start, end))).toBe(true);
  });

  it('when a chunk is missing, then the stream fails instead of returning a shorter file', async () => {
    const id = await storeGridFsFile(mongo, database, data, { filename: 'c' });
    await db.collection('fs.chunks').deleteOne({ files_id: new ObjectId(id), n: 2 });
    await expect(buffer(openGridFsDownload(db, await fileDoc(id)))).rejects.toThrow(/chunk 2 .* is missing/);
    await deleteGridFsFile(db, new ObjectId(id));
    expect(await db.collection('fs.chunks').countDocuments({ files_id: new ObjectId(id) })).toBe(0);
  });

  describe('as stored', () => {
    /** A file of `count` chunks whose chunk documents went in in `order`, and its bytes. */
    async function storedInOrder(order: number[]): Promise<{ file: Awaited<ReturnType<typeof fileDoc>>; bytes: Buffer }> {
      const chunkSize = 1024;
      const bytes = randomBytes(order.length * chunkSize - 100);
      const id = new ObjectId();
      for (const n of order) {
        await db.collection('fs.chunks').insertOne({ files_id: id, n, data: bytes.subarray(n * chunkSize, (n + 1) * chunkSize) });
      }
      await db.collection('fs.files').insertOne({ _id: id, length: bytes.length, chunkSize, uploadDate: new Date(), filename: 'as-stored' });
      return { file: await fileDoc(id.toHexString()), bytes };
    }

    it('when chunks were written in order, then the file comes back whole and in order', async () => {
      const { file, bytes } = await storedInOrder([...Array(30).keys()]);
      expect((await buffer(openGridFsDownload(db, file, { asStored: true }))).equals(bytes)).toBe(true);
      expect((await buffer(openGridFsDownload(db, file, { asStored: true, start: 5000, end: 9000 }))).equals(bytes.subarray(5000, 9000))).toBe(true);
    });

    it('when a few chunks were written out of order, or all of them backwards, then the file still comes back in order', async () => {
      const swapped = [...Array(30).keys()];
      [swapped[3], swapped[7]] = [swapped[7]!, swapped[3]!];
      for (const order of [swapped, [...Array(30).keys()].reverse()]) {
        const { file, bytes } = await storedInOrder(order);
        expect((await buffer(openGridFsDownload(db, file, { asStored: true }))).equals(bytes)).toBe(true);
      }
    });

    it('when a chunk is missing, then the stream fails, whether it was early or late', async () => {
      for (const gone of [0, 12, 29]) {
        const { file } = await storedInOrder([...Array(30).keys()]);
        await db.collection('fs.chunks').deleteOne({ files_id: file._id, n: gone });
        await expect(buffer(openGridFsDownload(db, file, { asStored: true }))).rejects.toThrow(new RegExp(`chunk ${gone} .* is missing`));
      }
    });

    it('when read chunk by chunk, then any range comes back exact, in any order the chunks went in, and a missing or cut chunk fails it', async () => {
      const { file, bytes } = await storedInOrder([...Array(30).keys()].reverse());
      const chunked = (range: { start?: number; end?: number }) => buffer(Readable.from(readGridFsChunks(db, file, { ...range, timeoutMs: 10_000 })));
      expect((await chunked({})).equals(bytes)).toBe(true);
      for (const [start, end] of [
        [0, 1],
        [1023, 1025],
        [5000, 9000],
        [bytes.length - 1, bytes.length],
        [7, 7],
      ] as const) {
        expect((await chunked({ start, end })).equals(bytes.subarray(start, end))).toBe(true);
      }
      await db.collection('fs.chunks').deleteOne({ files_id: file._id, n: 12 });
      await expect(chunked({ start: 5000 })).rejects.toThrow(/chunk 12 .* is missing/);
      await db.collection('fs.chunks').updateOne({ files_id: file._id, n: 20 }, { $set: { data: Buffer.alloc(10) } });
      await expect(chunked({ start: 20 * 1024 })).rejects.toThrow(/chunk 20 .* has 10 bytes/);
    });
  });
});

describe('GridFsChunkWriter', () => {
  const chunkSize = 1000;
  const chunksOf = (id: ObjectId) =>
    db
      .collection('fs.chunks')
      .find({ files_id: id }, { sort: { n: 1 } })
      .toArray();

  it('when bytes arrive in pieces of any size, then every chunk goes in once it is whole, and the last one at the end', async () => {
    const id = new ObjectId();
    const bytes = randomBytes(10_500);
    const writer = new GridFsChunkWriter(db, id, { chunkSize, timeoutMs: 10_000 });
    await writer.write(bytes.subarray(0, 300));
    await writer.write(bytes.subarray(300, 2_500));
    await writer.drain();
    expect((await chunksOf(id)).map((c) => c.n)).toEqual([0, 1]);
    for (let at = 2_500; at < bytes.length; at += 700) await writer.write(bytes.subarray(at, Math.min(at + 700, bytes.length)));
    await writer.end();
    const chunks = await chunksOf(id);
    expect(chunks.map((c) => c.n)).toEqual([...Array(11).keys()]);
    expect(Buffer.concat(chunks.map((c) => Buffer.from(c.data.buffer))).equals(bytes)).toBe(true);
    expect(writer.chunkCount).toBe(11);
  });

  it('when a file goes on from where it was left, then its chunks follow the ones before', async () => {
    const id = new ObjectId();
    const bytes = randomBytes(3_200);
    const first = new GridFsChunkWriter(db, id, { chunkSize, timeoutMs: 10_000 });
    await first.write(bytes.subarray(0, 2_400));
    await first.drain();
    const second = new GridFsChunkWriter(db, id, { chunkSize, timeoutMs: 10_000, resume: { chunks: first.chunkCount, tail: first.tail() } });
    await second.write(bytes.subarray(2_400));
    await second.end();
    expect(Buffer.concat((await chunksOf(id)).map((c) => Buffer.from(c.data.buffer))).equals(bytes)).toBe(true);
  });

  it('when a chunk cannot go in, then the writer fails, and settle waits for every insert still on its way', async () => {
    await ensureGridFsIndexes(db);
    const id = new ObjectId();
    await db.collection('fs.chunks').insertOne({ files_id: id, n: 2, data: Buffer.alloc(1) });
    const writer = new GridFsChunkWriter(db, id, { chunkSize, timeoutMs: 10_000 });
    const fed = (async () => {
      for (let i = 0; i < 12; i++) await writer.write(randomBytes(chunkSize));
      await writer.end();
    })();
    await expect(fed).rejects.toThrow(/duplicate key/i);
    await writer.settle();
    await deleteGridFsFile(db, id);
    expect(await db.collection('fs.chunks').countDocuments({ files_id: id })).toBe(0);
  });
});

describe('createMongoClient', () => {
  it('when the store does not answer the first operation, then the client connects once it answers (the driver alone would stay closed)', async () => {
    // A port that refuses until the store "comes up": then it relays to the test's MongoDB-wire server.
    const target = new URL(inject('servers').mongoUrl);
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const { logger, lines } = captureLogger();
    const late = createMongoClient(`mongodb://127.0.0.1:${port}`, 'shared-test-late', logger);
    const relay = createServer((socket) => {
      const upstream = connect(Number(target.port), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    try {
      await expect(pingMongo(late)).rejects.toThrow();
      await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
      await waitFor(
        async () =>
          pingMongo(late).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 20_000, what: 'the client to connect once the store answers' },
      );
      expect(lines().some((l) => String(l.msg).includes('reconnected after the connection the driver closed'))).toBe(true);
    } finally {
      await late.close();
      relay.close();
    }
  });
});
