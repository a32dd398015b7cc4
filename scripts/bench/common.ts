import { randomBytes } from 'node:crypto';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { deleteQueues } from '@mp3converter/shared/testing';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export const servers = {
  mysqlUrl: process.env.TEST_MYSQL_URL ?? 'mysql://root:@127.0.0.1:3306',
  mongoUrl: process.env.TEST_MONGODB_URL ?? 'mongodb://127.0.0.1:27017',
  rabbitUrl: process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
};

export interface Service {
  process: ChildProcess;
  /** Peak resident memory so far (VmHWM), MiB. */
  peakRssMiB(): Promise<number>;
  /** Resident memory now (VmRSS), MiB. */
  rssMiB(): Promise<number>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
// Whatever happens to the benchmark, the services it started go with it.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * On FerretDB over PostgreSQL (BENCH_PG_URL, from bench.sh), the PostgreSQL indexes start.sh makes for lookups
 * (ferretdb_pg_lookups): for a benchmark to measure the local default as it runs. Nothing on MongoDB.
 */
export async function pgLookups(database: string, collection: string, fields: string): Promise<void> {
  const url = process.env.BENCH_PG_URL;
  if (!url) return;
  await promisify(execFile)('bash', ['-c', 'source scripts/lib/common.sh && ferretdb_pg_lookups "$@"', 'lookups', url, database, collection, fields], {
    cwd: root,
  });
}

/** Node flags a service runs with in its image (see its Dockerfile's NODE_OPTIONS); the gateway runs V8's defaults. */
export const SERVICE_NODE_OPTIONS: Record<string, string> = { converter: '--max-semi-space-size=1' };

/** Runs a built service (`services/<name>/dist/main.js`) as its own process, as in production; its log level `BENCH_LOG_LEVEL` (warn). */
export async function startService(name: string, env: Record<string, string>, readyUrl: string): Promise<Service> {
  const child = spawn(process.execPath, [`services/${name}/dist/main.js`], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', NODE_OPTIONS: SERVICE_NODE_OPTIONS[name] ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready`);
    try {
      if ((await fetch(readyUrl)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    process: child,
    peakRssMiB: () => procStatusMiB(child.pid!, 'VmHWM'),
    rssMiB: () => procStatusMiB(child.pid!, 'VmRSS'),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

async function procStatusMiB(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** What a benchmark leaves behind: its services stopped in turn, then its MongoDB client, queue and folder. */
export async function endBench(services: Service[], mongo: { close(): Promise<void> }, videoQueue: string, work: string): Promise<void> {
  for (const service of services) await service.stop();
  await mongo.close();
  await deleteQueues(servers.rabbitUrl, videoQueue);
  await rm(work, { recursive: true, force: true });
}

export const mib = (bytes: number) => bytes / 1024 ** 2;
export const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** The bench user auth seeds, and where the bench's auth and gateway listen. */
export const BENCH_USER = { email: 'bench@example.test', password: 'bench' };
export const BENCH_AUTH = 'http://127.0.0.1:5099';
export const BENCH_GATEWAY = 'http://127.0.0.1:8099';

/** auth on its own database of the test MySQL, with the bench user seeded. */
export function startBenchAuth(): Promise<Service> {
  const mysql = new URL(servers.mysqlUrl);
  return startService(
    'auth',
    {
      PORT: '5099',
      HEALTH_PORT: '8097',
      HOST: '127.0.0.1',
      MYSQL_HOST: mysql.hostname,
      MYSQL_PORT: mysql.port || '3306',
      MYSQL_USER: decodeURIComponent(mysql.username),
      MYSQL_PASSWORD: decodeURIComponent(mysql.password),
      MYSQL_DB: `bench_auth_${randomBytes(6).toString('hex')}`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      SEED_USER_EMAIL: BENCH_USER.email,
      SEED_USER_PASSWORD: BENCH_USER.password,
    },
    'http://127.0.0.1:8097/readyz',
  );
}

/** A gateway in front of that auth, publishing to `videoQueue`. */
export function startBenchGateway(videoQueue: string): Promise<Service> {
  return startService(
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
}

/** The bench user's token, through `base`'s /login. */
export async function benchToken(base: string): Promise<string> {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${BENCH_USER.email}:${BENCH_USER.password}`).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`bench login answered ${res.status}`);
  return res.text();
}

/** The queues a bench converter works on. */
export interface BenchQueues {
  video: string;
  mp3: string;
  failed: string;
}

/** A converter worker on `queues`, its temporary files in `tmpDir`, its probes on `healthPort`. */
export function startBenchConverter(healthPort: number, queues: BenchQueues, tmpDir: string, env: Record<string, string> = {}): Promise<Service> {
  return startService(
    'converter',
    {
      HEALTH_PORT: String(healthPort),
      MONGODB_URI: servers.mongoUrl,
      RABBITMQ_URL: servers.rabbitUrl,
      VIDEO_QUEUE: queues.video,
      MP3_QUEUE: queues.mp3,
      FAILED_QUEUE: queues.failed,
      TMP_DIR: tmpDir,
      ...env,
    },
    `http://127.0.0.1:${healthPort}/readyz`,
  );
}

/**
 * The benchmark videos' audio, which sets what LAME costs: it encodes mono pink noise about twice as fast as
 * dense stereo music (~210x against ~100x realtime per core), so the default is stereo and music-like: a
 * plain `-q:a 2` encode of it takes 0.69 s of CPU per minute here, against 0.38 s for the pink noise.
 * `BENCH_AUDIO=pink-mono` gives the mono pink noise of earlier figures.
 */
const AUDIO = {
  music: {
    description:
      'stereo 44.1 kHz music-like audio (uncorrelated pink noise at -20 dBFS per channel under three tones with tremolo, vibrato and panning), AAC 128 kb/s',
    filter: (seconds: number) => {
      const mono = 'aformat=sample_fmts=fltp:sample_rates=44100:channel_layouts=mono';
      const tone = (hz: number, effects: string) => `sine=f=${hz}:r=44100:d=${seconds},${effects}`;
      return [
        `anoisesrc=c=pink:r=44100:a=0.1:seed=1:d=${seconds},${mono}[n1]`,
        `anoisesrc=c=pink:r=44100:a=0.1:seed=2:d=${seconds},${mono}[n2]`,
        '[n1][n2]amerge=inputs=2[noise]',
        `${tone(220, 'vibrato=f=0.5:d=0.3,tremolo=f=4:d=0.5,volume=0.25')},${mono}[t1]`,
        `${tone(330, 'tremolo=f=3:d=0.6,volume=0.2')},${mono}[t2]`,
        '[t1][t2]amerge=inputs=2[tones]',
        `${tone(880, 'tremolo=f=2:d=0.9,volume=0.15')},aformat=channel_layouts=stereo,apulsator=hz=0.25[panned]`,
        '[noise][tones][panned]amix=inputs=3:normalize=0[audio]',
      ].join(';');
    },
  },
  'pink-mono': {
    description: 'mono 44.1 kHz pink noise, AAC 128 kb/s (encodes about twice as fast as dense stereo music)',
    filter: (seconds: number) => `anoisesrc=color=pink:sample_rate=44100:duration=${seconds}[audio]`,
  },
} as const;

const audio = AUDIO[(process.env.BENCH_AUDIO ?? 'music') as keyof typeof AUDIO];
if (!audio) throw new Error(`BENCH_AUDIO must be one of ${Object.keys(AUDIO).join(', ')}`);

/** What the benchmark videos are, for every figure printed about them. */
export const BENCH_INPUT = `640x360 15 fps H.264 video, ${audio.description}`;

/** A benchmark video (see BENCH_INPUT) of `seconds` at `path`. */
export async function makeBenchVideo(path: string, seconds: number): Promise<string> {
  await promisify(execFile)(
    'ffmpeg',
    [
      ...['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=640x360:rate=15:duration=${seconds}`],
      ...['-filter_complex', audio.filter(seconds), '-map', '0:v', '-map', '[audio]'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '35', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-shortest', '-y', path],
    ],
    { maxBuffer: 1 << 24 },
  );
  return path;
}
