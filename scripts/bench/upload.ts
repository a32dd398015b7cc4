/**
 * Gateway upload benchmark: a 1 GiB generated file through POST /upload (streamed into GridFS and queued)
 * against a raw GridFS write of the same file. Prints throughput, their ratio and the gateway's peak RSS.
 *
 *   bash scripts/bench.sh upload [SIZE_MIB]
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { GridFSBucket, MongoClient, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import { deleteQueues, makeVideo, uniqueName } from '@mp3converter/shared/testing';
import { fmt, mib, servers, startService } from './common.js';

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

const mysql = new URL(servers.mysqlUrl);
const database = uniqueName('bench_auth');
const videoQueue = uniqueName('bench_video');
const secret = randomBytes(32).toString('hex');
const auth = await startService(
  'auth',
  {
    PORT: '5099',
    HEALTH_PORT: '8097',
    HOST: '127.0.0.1',
    MYSQL_HOST: mysql.hostname,
    MYSQL_PORT: mysql.port || '3306',
    MYSQL_USER: decodeURIComponent(mysql.username),
    MYSQL_PASSWORD: decodeURIComponent(mysql.password),
    MYSQL_DB: database,
    JWT_SECRET: secret,
    SEED_USER_EMAIL: 'bench@example.test',
    SEED_USER_PASSWORD: 'bench',
  },
  'http://127.0.0.1:8097/readyz',
);
const gateway = await startService(
  'gateway',
  {
    PORT: '8099',
    HEALTH_PORT: '8096',
    HOST: '127.0.0.1',
    AUTH_SVC_ADDRESS: '127.0.0.1:5099',
    MONGODB_URI: servers.mongoUrl,
    RABBITMQ_URL: servers.rabbitUrl,
    VIDEO_QUEUE: videoQueue,
    DOWNLOAD_LINK_SECRET: randomBytes(32).toString('hex'),
  },
  'http://127.0.0.1:8096/readyz',
);
const mongo = new MongoClient(servers.mongoUrl);

try {
  const token = await (
    await fetch('http://127.0.0.1:5099/login', {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('bench@example.test:bench').toString('base64')}` },
    })
  ).text();
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

  const gatewayMiBs = mib(size) / gatewaySeconds;
  const rawMiBs = mib(size) / rawSeconds;
  console.log(`\nupload of ${fmt(mib(size), 0)} MiB`);
  console.log(`  gateway  POST /upload   ${fmt(gatewaySeconds, 2)} s   ${fmt(gatewayMiBs)} MiB/s`);
  console.log(`  raw GridFS write         ${fmt(rawSeconds, 2)} s   ${fmt(rawMiBs)} MiB/s`);
  console.log(`  throughput ratio         ${fmt((gatewayMiBs / rawMiBs) * 100, 0)} % of the raw write (target >= 80 %)`);
  console.log(`  gateway peak RSS         ${fmt(peak)} MiB (${fmt(baseline)} MiB before the upload; target < 150 MB)`);

  await deleteGridFsFile(mongo.db('videos'), rawId);
  await deleteGridFsFile(mongo.db('videos'), new ObjectId(answer.video_fid));
  await mongo
    .db('videos')
    .collection('jobs')
    .deleteOne({ _id: new ObjectId(answer.video_fid) });
} finally {
  await gateway.stop();
  await auth.stop();
  await mongo.close();
  await deleteQueues(servers.rabbitUrl, videoQueue);
  await rm(work, { recursive: true, force: true });
}
process.exit(0);
