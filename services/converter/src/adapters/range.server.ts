import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { nodeHttp } from '@mp3converter/shared/http';
import type { ByteSpan, ServedVideo } from '../domain/ports.js';

/** Where the server listens: loopback only, so no other host can reach it. */
const LOOPBACK = '127.0.0.1';

/**
 * The most a response carries: a window of what was asked, the rest for the next request (ffmpeg asks for
 * "from here to the end", reads what it needs and drops the connection to seek; whatever was sent by then,
 * a few MiB of socket buffers on loopback, was read out of the store for nothing). A request that goes on
 * where the last response ended gets twice the window, up to MAX_WINDOW_BYTES: reading on is cheap, a seek
 * wastes at most a first window.
 */
const FIRST_WINDOW_BYTES = 256 * 1024;
const MAX_WINDOW_BYTES = 4 * 1024 * 1024;
/** Windows remembered for requests that go on where one ended, at most (one per connection dropped early). */
const REMEMBERED_WINDOWS = 64;

/** Reads bytes `span.start` to `span.end` (exclusive) of the file, stopping on `signal`. */
export type SpanReader = (span: ByteSpan, signal: AbortSignal) => Readable;

/** `bytes=N-` or `bytes=N-M` (what ffmpeg's http protocol asks), M inclusive; undefined for anything else. */
function requestedSpan(header: string | undefined, size: number): ByteSpan | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const last = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || last < start) return 'unsatisfiable';
  return { start, end: last + 1 };
}

/**
 * One file served to ffmpeg over HTTP with byte ranges, so that ffmpeg seeks in it (`-ss` before `-i`, an
 * index at the end) and reads only what it needs. It listens on loopback, on a port the system picks, at a
 * path of 192 random bits: no other host can reach it, and another process on this one cannot guess it.
 * It answers GET and HEAD of that one path, and only with a Host header naming itself (no browser on the
 * machine can be led to it under another name); everything else is refused. `close` stops it and every
 * connection and read it has open.
 */
export class RangeServer implements ServedVideo {
  private served = 0;
  private failure: unknown;
  private readonly sockets = new Set<Socket>();
  private readonly reads = new Set<AbortController>();
  private closing: Promise<void> | undefined;
  /** The window of a request starting where a response ended, by that offset. */
  private readonly windows = new Map<number, number>();

  private readonly server: Server;
  private readonly path = `/${randomBytes(24).toString('base64url')}`;
  private host = '';
  private address = '';

  private constructor(size: number, read: SpanReader, onSent?: (bytes: number) => void) {
    this.server = nodeHttp.createServer((req, res) => this.answer(req, res, size, read, onSent));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /**
   * Serves a file of `size` bytes, read by `read`. `onSent` hears of each piece sent (a sign of life).
   * A read that fails ends its response early (ffmpeg sees a cut connection) and is kept as `error`; every
   * request after it is answered 503.
   */
  static async start(size: number, read: SpanReader, onSent?: (bytes: number) => void): Promise<RangeServer> {
    const self = new RangeServer(size, read, onSent);
    self.server.listen(0, LOOPBACK);
    await once(self.server, 'listening');
    const { port } = self.server.address() as AddressInfo;
    self.host = `${LOOPBACK}:${port}`;
    self.address = `http://${self.host}${self.path}`;
    return self;
  }

  get url(): string {
    return this.address;
  }

  /** Bytes of the file sent so far, over every request. */
  get bytesServed(): number {
    return this.served;
  }

  /** The first read of the file that failed, if any did. */
  get error(): unknown {
    return this.failure;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const read of this.reads) read.abort(new Error('the server closed'));
      const stopped = new Promise((resolve) => this.server.close(resolve));
      for (const socket of this.sockets) socket.destroy();
      await stopped;
    })();
    return this.closing;
  }

  /** The part of `span` a response carries (see FIRST_WINDOW_BYTES), remembering the window of what follows it. */
  private windowOf(span: ByteSpan, size: number): ByteSpan {
    const window = this.windows.get(span.start) ?? FIRST_WINDOW_BYTES;
    this.windows.delete(span.start);
    const end = Math.min(span.end, span.start + window);
    if (end < size) {
      this.windows.set(end, Math.min(window * 2, MAX_WINDOW_BYTES));
      if (this.windows.size > REMEMBERED_WINDOWS) this.windows.delete(this.windows.keys().next().value!);
    }
    return { start: span.start, end };
  }

  private answer(req: IncomingMessage, res: ServerResponse, size: number, read: SpanReader, onSent?: (bytes: number) => void): void {
    const refuse = (status: number) => {
      res.writeHead(status, { 'content-length': '0', connection: 'close' }).end();
    };
    if (this.closing || req.url !== this.path || req.headers.host !== this.host) {
      refuse(404);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      refuse(405);
      return;
    }
    // After a failed read of the store, ffmpeg's reconnects would meet the same failure, one after another,
    // with waits between them: it hears at once that the server cannot go on (ffmpeg does not retry a 503).
    if (this.failure !== undefined) {
      refuse(503);
      return;
    }
    const span = requestedSpan(req.headers.range, size);
    if (span === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': '0' }).end();
      return;
    }
    // Without a Range header (ffmpeg always sends one), the whole file: a 200 cannot be cut short.
    const { start, end } = span && req.method === 'GET' ? this.windowOf(span, size) : (span ?? { start: 0, end: size });
    const headers = { connection: 'close', 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': String(end - start) };
    if (span) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end - 1}/${size}` });
    else res.writeHead(200, headers);
    if (req.method === 'HEAD' || end === start) {
      res.end();
      return;
    }
    const stop = new AbortController();
    this.reads.add(stop);
    const body = read({ start, end }, stop.signal);
    // ffmpeg drops a connection as it seeks elsewhere: the read behind it stops there.
    res.once('close', () => {
      stop.abort(new Error('the client went away'));
      body.destroy();
      this.reads.delete(stop);
    });
    body.on('data', (piece: Buffer) => {
      this.served += piece.length;
      onSent?.(piece.length);
      if (!res.write(piece)) {
        body.pause();
        res.once('drain', () => body.resume());
      }
    });
    body.once('end', () => res.end());
    body.once('error', (err) => {
      if (!stop.signal.aborted) this.failure ??= err;
      res.destroy();
    });
  }
}
