import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { type MongoClient, ObjectId, createMongoClient } from '@mp3converter/shared/storage';
import { TEST_LINK_SECRET, deleteQueues, drainQueue as drain, storeGridFsFile, testLogger, uniqueName } from '@mp3converter/shared/testing';
import type { Logger } from '@mp3converter/shared/logger';
import { inject } from 'vitest';
import type { AuthConfig } from '../../auth/src/config.js';
import type { AuthServer } from '../../auth/src/server.js';
import { addUser, basic, startAuth, testConfig as authTestConfig } from '../../auth/test/helpers.js';
import { loadConfig } from '../src/config.js';
import { type GatewayOverrides, type GatewayServer, startGatewayServer } from '../src/server.js';

export interface Stack {
  auth: AuthServer;
  authConfig: AuthConfig;
  gateway: GatewayServer;
  url: string;
  videoQueue: string;
  mongo: MongoClient;
  stop(): Promise<void>;
}

/** A real auth (own MySQL database) and a gateway on port 0 with its own `video` queue name; `logger` for a test that reads the gateway's log. */
export async function startStack(
  env: Record<string, string> = {},
  existingAuth?: { auth: AuthServer; authConfig: AuthConfig },
  logger: Logger = testLogger('gateway'),
  overrides: GatewayOverrides = {},
): Promise<Stack> {
  const servers = inject('servers');
  const authConfig = existingAuth?.authConfig ?? authTestConfig();
  const auth = existingAuth?.auth ?? (await startAuth(authConfig));
  const videoQueue = env.VIDEO_QUEUE ?? uniqueName('video');
  const gateway = await startGatewayServer(
    loadConfig({
      PORT: '0',
      HEALTH_PORT: '0',
      HOST: '127.0.0.1',
      AUTH_SVC_ADDRESS: `127.0.0.1:${auth.http.port}`,
      MONGODB_URI: servers.mongoUrl,
      RABBITMQ_URL: servers.rabbitUrl,
      VIDEO_QUEUE: videoQueue,
      AUTH_TIMEOUT_MS: '2000',
      DOWNLOAD_LINK_SECRET: TEST_LINK_SECRET,
      // Tests share one store but not one queue: a held job another test's gateway released would go to the
      // wrong queue. Fair shares are tested where asked for (USER_JOB_SLOTS in env).
      USER_JOB_SLOTS: '1000',
      PUBLIC_GATEWAY_URL: 'http://mp3converter.test',
      ...env,
    }),
    logger,
    overrides,
  );
  await gateway.amqp.start();
  const mongo = createMongoClient(servers.mongoUrl, 'gateway-test');
  return {
    auth,
    authConfig,
    gateway,
    url: gateway.http.url,
    videoQueue,
    mongo,
    async stop() {
      await gateway.stop(1_000);
      if (!existingAuth) await auth.stop();
      await mongo.close();
      await deleteQueues(servers.rabbitUrl, videoQueue);
    },
  };
}

/** A new user and their token, through the gateway's own /login. */
export async function signIn(stack: Stack): Promise<{ email: string; token: string; authorization: string }> {
  const { email, password } = await addUser(stack.authConfig);
  const res = await fetch(`${stack.url}/login`, { method: 'POST', headers: { authorization: basic(email, password) } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  const token = await res.text();
  return { email, token, authorization: `Bearer ${token}` };
}

export async function uploadFile(
  stack: Stack,
  authorization: string | undefined,
  files: { field?: string; name: string; type?: string; data: Buffer }[],
  query = '',
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  for (const f of files) form.append(f.field ?? 'file', new Blob([new Uint8Array(f.data)], { type: f.type ?? 'video/mp4' }), f.name);
  return fetch(`${stack.url}/upload${query}`, { method: 'POST', body: form, headers: { ...headers, ...(authorization ? { authorization } : {}) } });
}

export const readVideo = (path: string) => readFile(path);

export async function drainQueue(queue: string): Promise<{ body: Record<string, unknown>; persistent: boolean }[]> {
  return (await drain(inject('servers').rabbitUrl, queue)).map(({ body, persistent }) => ({ body, persistent }));
}

/**
 * What a user left in the `videos` database: their files, jobs and upload leases, and chunks made since
 * `since` with no files document.
 */
export async function leftovers(
  mongo: MongoClient,
  owner: string,
  since: Date,
): Promise<{ files: number; jobs: number; leases: number; orphanChunks: number }> {
  const db = mongo.db('videos');
  const files = await db.collection('fs.files').countDocuments({ 'metadata.owner': owner });
  const jobs = await db.collection('jobs').countDocuments({ owner });
  const leases = await db.collection('uploads').countDocuments({ owner });
  const chunkFileIds: ObjectId[] = await db
    .collection('fs.chunks')
    .distinct('files_id', { files_id: { $gte: ObjectId.createFromTime(Math.floor(since.getTime() / 1000) - 1) } });
  let orphanChunks = 0;
  for (const id of chunkFileIds) {
    if (!(await db.collection('fs.files').findOne({ _id: id }, { projection: { _id: 1 } }))) orphanChunks++;
  }
  return { files, jobs, leases, orphanChunks };
}

export const NOTHING_LEFT = { files: 0, jobs: 0, leases: 0, orphanChunks: 0 } as const;

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The parsed body when it is JSON. */
  json: any;
}

/**
 * Sends `request` byte for byte over a plain TCP connection (no client library tidying it up) and reads the
 * answer until the server closes. With `cut`, the socket is ended after the bytes instead of waiting for the
 * server to finish: a client that goes away half-way. Resolves to undefined when no answer came.
 */
export function rawHttp(port: number, request: Buffer, { cut = false, timeoutMs = 20_000 } = {}): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of the answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return resolve(undefined);
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
      const body = text.slice(split + 4);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, json });
    });
    socket.write(request, () => {
      if (cut) socket.end();
    });
  });
}

/** A POST /upload as raw bytes: the given headers (Content-Length unless `headers` sets its own) and body. */
export function rawUpload(headers: Record<string, string>, body: Buffer): Buffer {
  const all = { host: '127.0.0.1', connection: 'close', 'content-length': String(body.length), ...headers };
  const head = Object.entries(all)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return Buffer.concat([Buffer.from(`POST /upload HTTP/1.1\r\n${head}\r\n`, 'latin1'), body]);
}

/** One multipart part: its header lines as given, then its body. */
export const part = (boundary: string, headerLines: string[], content: Buffer | string = ''): Buffer =>
  Buffer.concat([Buffer.from(`--${boundary}\r\n${headerLines.map((l) => `${l}\r\n`).join('')}\r\n`), Buffer.from(content), Buffer.from('\r\n')]);

export const closing = (boundary: string): Buffer => Buffer.from(`--${boundary}--\r\n`);

/** Stores an MP3 the way the converter does (owner in metadata) and returns its id. */
export function storeMp3(mongo: MongoClient, owner: string, data: Buffer, filename = 'song.mp3'): Promise<string> {
  return storeGridFsFile(mongo, 'mp3s', data, { filename, metadata: { owner, contentType: 'audio/mpeg' } });
}

/**
 * A multipart upload of `video` whose body arrives in two steps: the multipart head, the video and 600 kB at
 * once, the rest (`tail` bytes, then the closing boundary) only once `gate` settles. Several uploads may share
 * one gate.
 */
export function gatedUpload(url: string, authorization: string, video: Buffer, tail: number, gate: Promise<void>): Promise<Response> {
  const boundary = `b${randomBytes(8).toString('hex')}`;
  let step = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const current = step++;
      if (current === 0) {
        const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n`;
        ctrl.enqueue(new Uint8Array(Buffer.concat([Buffer.from(head), video, randomBytes(600_000)])));
      } else if (current === 1) {
        await gate;
        ctrl.enqueue(new Uint8Array(randomBytes(tail)));
      } else {
        ctrl.enqueue(new Uint8Array(Buffer.from(`\r\n--${boundary}--\r\n`)));
        ctrl.close();
      }
    },
  });
  return fetch(`${url}/upload`, {
    method: 'POST',
    headers: { authorization, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    duplex: 'half',
  } as RequestInit);
}
