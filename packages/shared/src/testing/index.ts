import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../logger/index.js';

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A name no other test or run uses: `prefix_<12 hex>`. */
export const uniqueName = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

export const uniqueEmail = (prefix = 'user'): string => `${uniqueName(prefix)}@example.test`;

/**
 * A TCP proxy in front of a real server, so a test can take the server "away" (refuse and cut connections)
 * and bring it back without touching the server other tests share.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = this.port): Promise<this> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Stops listening and cuts every open connection, as a crashed server would. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A logger whose lines a test can read back; silent on the console. */
export function captureLogger(service = 'test'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ service, level: 'debug', destination: sink });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A logger for tests that prints nothing unless TEST_LOG_LEVEL asks. */
export const testLogger = (service = 'test'): Logger => createLogger({ service, level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A response's JSON body, loosely typed for assertions. */
export const jsonOf = async (res: Response): Promise<any> => res.json();

export { makeMp3, makeVideo, probe, type Probe, type VideoOptions } from './media.js';
export { deleteQueues, drainQueue, publishRaw, queueDepth, type QueuedMessage } from './broker.js';
export { readGridFsFile, storeGridFsFile } from './files.js';
export {
  type HostileFile,
  behindId3,
  behindRiff,
  dashManifest,
  ffconcatList,
  hlsPlaylist,
  hostileCorpus,
  partialTsDataUri,
  understatedAac,
} from './hostile-media.js';
