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

/** The download-link secret every test gateway and notification worker signs with. */
export const TEST_LINK_SECRET = 'test-download-link-secret-0123456789abcdef';

/** A name no other test or run uses: `prefix_<12 hex>`. */
export const uniqueName = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

export const uniqueEmail = (prefix = 'user'): string => `${uniqueName(prefix)}@example.test`;

/**
 * A TCP proxy in front of a real server, so a test can take the server "away" without touching the server
 * other tests share: `stop()` refuses connections and cuts the open ones (a crashed server), `hang()` keeps
 * accepting connections but lets no byte through either way (a black hole: a frozen server or a network
 * partition), `pace()` lets the server's answers through at a set rate (a slow disk or link), and `start()`
 * / `heal()` bring it back.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private hanging = false;
  private bytesPerSecond = 0;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = this.port): Promise<this> {
    if (this.server) {
      this.heal();
      return this;
    }
    this.server = net.createServer((client) => this.accept(client));
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Stops listening and cuts every open connection, as a crashed server would. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.hanging = false;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /**
   * From now on nothing passes, in either direction, on open connections and on new ones, which are still
   * accepted: whoever waits for an answer waits until its own timeout.
   */
  hang(): void {
    this.hanging = true;
  }

  /** From now on the server's bytes reach the clients at `bytesPerSecond` at most; 0 lifts the limit. */
  pace(bytesPerSecond: number): void {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Ends a `hang()`: the connections held in it are cut (as after a long partition), new ones pass again. */
  heal(): void {
    this.hanging = false;
    for (const s of this.sockets) if ((s as HeldSocket).held) s.destroy();
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.hanging) {
      this.hold(client);
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.track(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    // Bytes that arrive while hanging are dropped, as a black hole would; the connection is marked held so
    // that `heal()` cuts it rather than letting a half-delivered exchange resume.
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (data: Buffer) => {
        if (this.hanging) {
          (client as HeldSocket).held = true;
          (upstream as HeldSocket).held = true;
          return;
        }
        const paced = from === upstream && this.bytesPerSecond > 0;
        const full = !to.write(data);
        if (!full && !paced) return;
        from.pause();
        const waits: Promise<unknown>[] = [];
        if (full) waits.push(once(to, 'drain'));
        if (paced) waits.push(new Promise((resolve) => setTimeout(resolve, (data.length / this.bytesPerSecond) * 1000)));
        Promise.all(waits).then(
          () => from.resume(),
          () => undefined,
        );
      });
    forward(client, upstream);
    forward(upstream, client);
  }

  private hold(socket: net.Socket): void {
    (socket as HeldSocket).held = true;
    socket.on('error', () => socket.destroy());
    socket.on('data', () => undefined);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

type HeldSocket = net.Socket & { held?: boolean };

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

export { makeMp3, makeVideo, pacedFfmpeg, probe, type Probe, type VideoOptions } from './media.js';
export { deleteQueues, drainQueue, publishConfirmed, publishRaw, queueDepth, type QueuedMessage } from './broker.js';
export { readGridFsFile, storeGridFsFile } from './files.js';
export { parseMetrics, scrape, metricValue, type Sample } from './metrics.js';
export {
  type HostileFile,
  behindId3,
  behindRiff,
  dashManifest,
  ffconcatList,
  hlsPlaylist,
  hostileCorpus,
  id3TaggedMp3,
  optionInjectionTags,
  partialTsDataUri,
  understatedAac,
} from './hostile-media.js';
