/**
 * Gateway upload benchmark: a 1 GiB generated file through POST /upload (streamed into GridFS and queued),
 * then through the resumable path (tus: PATCHes of 50 MB on a fresh gateway process), each against a raw
 * GridFS write of the same file. Prints throughput, their ratio to the raw write and each gateway's peak RSS.
 *
 *   bash scripts/bench.sh upload [SIZE_MIB]
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { GridFSBucket, MongoClient, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import { makeVideo, uniqueName } from '@mp3converter/shared/testing';
import { BENCH_AUTH, benchToken, endBench, fmt, mib, servers, startBenchAuth, startBenchGateway } from './common.js';

const sizeMiB = Number(process.argv[2] ?? 1024);
const work = await mkdtemp(join(tmpdir(), 'bench-upload-'));
const file = join(work, 'big.mp4');

// A real MP4 at the front (the gateway sniffs the first bytes), then random bytes up to the size.
const head = await makeVideo({ seconds: 1 });
const out = createWriteStream(file);
out.write(await readFile(head.path));
await head.cleanup();
for (let written = 0; written < sizeMiB; written++) {
  if (!out.write(randomBytes(1024 * 1024))) await once(out, 'drain');
}
await new Promise<void>((r) => out.end(r));
const size = (await stat(file)).size;

const videoQueue = uniqueName('bench_video');
const auth = await startBenchAuth();
const startGateway = () => startBenchGateway(videoQueue);
let gateway = await startGateway();
const mongo = new MongoClient(servers.mongoUrl);

try {
  const token = await benchToken(BENCH_AUTH);
  const baseline = await gateway.peakRssMiB();

  // Through the gateway: a streamed multipart body, never held in memory by the client either.
  const boundary = `bench${randomBytes(8).toString('hex')}`;
  async function* body() {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
    yield* createReadStream(file, { highWaterMark: 1024 * 1024 });
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  let t = performance.now();
  const res = await fetch('http://127.0.0.1:8099/upload', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.toWeb(Readable.from(body())) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const gatewaySeconds = (performance.now() - t) / 1000;
  const answer = (await res.json()) as { video_fid?: string };
  if (res.status !== 202 || !answer.video_fid) throw new Error(`upload answered ${res.status}: ${JSON.stringify(answer)}`);
  const peak = await gateway.peakRssMiB();

  // The same bytes written straight into GridFS: the floor the gateway is compared with.
  const rawId = new ObjectId();
  t = performance.now();
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), new GridFSBucket(mongo.db('videos')).openUploadStreamWithId(rawId, 'raw.mp4'));
  const rawSeconds = (performance.now() - t) / 1000;

  // The resumable path on a fresh gateway process, so that its peak RSS is its own.
  await gateway.stop();
  gateway = await startGateway();
  const tusBaseline = await gateway.peakRssMiB();
  const tusHeaders = { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' };
  t = performance.now();
  const created = await fetch('http://127.0.0.1:8099/uploads/', {
    method: 'POST',
    headers: { ...tusHeaders, 'upload-length': String(size), 'upload-metadata': `filename ${Buffer.from('big.mp4').toString('base64')}` },
  });
  if (created.status !== 201) throw new Error(`tus creation answered ${created.status}: ${await created.text()}`);
  const tusUrl = `http://127.0.0.1:8099${created.headers.get('location')}`;
  const PART = 50 * 1000 * 1000;
  for (let offset = 0; offset < size; offset += PART) {
    const end = Math.min(size, offset + PART);
    const res = await fetch(tusUrl, {
      method: 'PATCH',
      headers: { ...tusHeaders, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(end - offset) },
      body: Readable.toWeb(createReadStream(file, { start: offset, end: end - 1, highWaterMark: 1024 * 1024 })) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    if (res.status !== 204) throw new Error(`PATCH at ${offset} answered ${res.status}: ${await res.text()}`);
  }
  const tusSeconds = (performance.now() - t) / 1000;
  const tusPeak = await gateway.peakRssMiB();
  const tusId = tusUrl.split('/').pop()!;

  const gatewayMiBs = mib(size) / gatewaySeconds;
  const rawMiBs = mib(size) / rawSeconds;
  console.log(`\nupload of ${fmt(mib(size), 0)} MiB`);
  console.log(`  gateway  POST /upload   ${fmt(gatewaySeconds, 2)} s   ${fmt(gatewayMiBs)} MiB/s`);
  console.log(`  raw GridFS write         ${fmt(rawSeconds, 2)} s   ${fmt(rawMiBs)} MiB/s`);
  console.log(`  throughput ratio         ${fmt((gatewayMiBs / rawMiBs) * 100, 0)} % of the raw write (target >= 80 %)`);
  console.log(`  gateway peak RSS         ${fmt(peak)} MiB (${fmt(baseline)} MiB before the upload; target < 150 MB)`);
  const tusMiBs = mib(size) / tusSeconds;
  console.log(`\nresumable upload (tus, PATCHes of 50 MB) of ${fmt(mib(size), 0)} MiB`);
  console.log(`  gateway  tus /uploads/  ${fmt(tusSeconds, 2)} s   ${fmt(tusMiBs)} MiB/s`);
  console.log(`  throughput ratio         ${fmt((tusMiBs / rawMiBs) * 100, 0)} % of the raw write (target >= 80 %)`);
  console.log(`  gateway peak RSS         ${fmt(tusPeak)} MiB (${fmt(tusBaseline)} MiB before the upload; target < 150 MB)`);

  await deleteGridFsFile(mongo.db('videos'), rawId);
  await deleteGridFsFile(mongo.db('videos'), new ObjectId(answer.video_fid));
  await deleteGridFsFile(mongo.db('videos'), new ObjectId(tusId));
  await mongo
    .db('videos')
    .collection('resumable_uploads')
    .deleteOne({ _id: new ObjectId(tusId) });
  await mongo
    .db('videos')
    .collection('jobs')
    .deleteMany({ _id: { $in: [new ObjectId(answer.video_fid), new ObjectId(tusId)] } });
} finally {
  await endBench([gateway, auth], mongo, videoQueue, work);
}
process.exit(0);
