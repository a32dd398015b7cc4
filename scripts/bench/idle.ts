/**
 * Gateway idle memory: auth and the gateway started as in production (the gateway with its image's node
 * flags), one login and one `/status` through it, then its resident memory after it has settled.
 *
 *   bash scripts/bench.sh idle
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deleteQueues, uniqueName } from '@mp3converter/shared/testing';
import { SERVICE_NODE_OPTIONS, fmt, servers, startService } from './common.js';

const mysql = new URL(servers.mysqlUrl);
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
    MYSQL_DB: uniqueName('bench_auth'),
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
try {
  const token = await (
    await fetch('http://127.0.0.1:8099/login', {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('bench@example.test:bench').toString('base64')}` },
    })
  ).text();
  await fetch('http://127.0.0.1:8099/status?fid=000000000000000000000000', { headers: { authorization: `Bearer ${token}` } });
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 500));
    samples.push(await gateway.rssMiB());
  }
  // RSS counts the pages of the node executable it touched too (clean, file-backed, shared by every node
  // process on the host); `Anonymous` is what this process itself holds.
  const rollup = await readFile(`/proc/${gateway.process.pid}/smaps_rollup`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(rollup)?.[1] ?? 0) / 1024;
  console.log(`\ngateway idle (NODE_OPTIONS=${SERVICE_NODE_OPTIONS.gateway})`);
  console.log(`  RSS after 5 s idle   ${fmt(samples.at(-1)!)} MiB   (peak ${fmt(await gateway.peakRssMiB())} MiB; target < 80 MB = 76.3 MiB)`);
  console.log(`  of which anonymous   ${fmt(kib('Anonymous'))} MiB, file-backed ${fmt(kib('Rss') - kib('Anonymous'))} MiB (the node executable's pages)`);
} finally {
  await gateway.stop();
  await auth.stop();
  await deleteQueues(servers.rabbitUrl, videoQueue);
}
process.exit(0);
