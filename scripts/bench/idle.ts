/**
 * Gateway idle memory: auth and the gateway started as in production (the gateway with its image's node
 * flags), one login and one `/status` through it, then its resident memory once it has been at rest for 20 s.
 *
 *   bash scripts/bench.sh idle
 */
import { readFile } from 'node:fs/promises';
import { deleteQueues, uniqueName } from '@mp3converter/shared/testing';
import { BENCH_GATEWAY, benchToken, fmt, servers, startBenchAuth, startBenchGateway } from './common.js';

const videoQueue = uniqueName('bench_video');
const auth = await startBenchAuth();
const gateway = await startBenchGateway(videoQueue);
try {
  const token = await benchToken(BENCH_GATEWAY);
  await fetch('http://127.0.0.1:8099/status?fid=000000000000000000000000', { headers: { authorization: `Bearer ${token}` } });
  // V8's memory reducer shrinks the heap once allocation has stayed low for a while (~8 s): a service at rest
  // is measured after it has had its chance, and 5 s in for comparison with earlier figures.
  const samples: number[] = [];
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 500));
    samples.push(await gateway.rssMiB());
  }
  // RSS counts the pages of the node executable it touched too (clean, file-backed, shared by every node
  // process on the host); `Anonymous` is what this process itself holds.
  const rollup = await readFile(`/proc/${gateway.process.pid}/smaps_rollup`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(rollup)?.[1] ?? 0) / 1024;
  console.log('\ngateway idle (node with V8’s defaults, as its image runs it)');
  console.log(`  RSS after 20 s idle  ${fmt(samples.at(-1)!)} MiB   (after 5 s ${fmt(samples[9]!)} MiB, peak ${fmt(await gateway.peakRssMiB())} MiB)`);
  console.log(`  of which anonymous   ${fmt(kib('Anonymous'))} MiB, file-backed ${fmt(kib('Rss') - kib('Anonymous'))} MiB (the node executable's pages)`);
} finally {
  await gateway.stop();
  await auth.stop();
  await deleteQueues(servers.rabbitUrl, videoQueue);
}
process.exit(0);
