import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, methodNotAllowed, notFound } from '@mp3converter/shared/errors';
import type { Logger } from '@mp3converter/shared/logger';
import { checkSignedLink } from '@mp3converter/shared/links';
import express, { type RequestHandler, type Response, type Router } from 'express';
import type { GridFsMp3Files } from '../adapters/mp3-files.js';
import type { AuthClient, JobViews } from '../domain/ports.js';
import { parseRange } from '../domain/range.js';
import { authenticate, userOf } from './authenticate.js';
import { attachment, requireFid } from './params.js';

export interface DownloadRouteDeps {
  auth: AuthClient;
  mp3s: GridFsMp3Files;
  jobs: Pick<JobViews, 'findByMp3'>;
  /** Signs and checks the links of emails (never JWT_SECRET). */
  linkSecret: string;
  logger: Logger;
}

const mp3NotFound = () => notFound('no such mp3', 'mp3_not_found');

/**
 * What a link that does not check out answers, whatever is wrong with it: a bad or missing signature, or an
 * id that names no file. One answer for all, so that a link with no valid signature tells nothing about
 * which files exist.
 */
const invalidLink = () => new AppError(403, 'invalid_link', 'this download link is not valid');

/** A signed link's `expires` and `sig` (either one makes it a link), or undefined for a download with a token. */
export function signedQuery(query: Record<string, unknown>): { expires: number; sig: string } | undefined {
  if (query.sig === undefined && query.expires === undefined) return undefined;
  const expires = Number(query.expires);
  if (typeof query.sig !== 'string' || query.sig === '' || !Number.isSafeInteger(expires)) throw invalidLink();
  return { expires, sig: query.sig };
}

/** A token is asked for unless the request is a signed link (`sig` or `expires` in its query). */
export const tokenUnlessSigned =
  (auth: AuthClient): RequestHandler =>
  (req, res, next) =>
    req.query.sig === undefined && req.query.expires === undefined ? authenticate(auth, 'read')(req, res, next) : next();

/** How a response fails when its client went away (closed, reset): nothing of ours went wrong. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE']);

/**
 * Sends `chunks` as the body whose headers are set, holding `release` until it ends. Past the headers there
 * is no status left to give: a failure cuts the body short of its Content-Length, and is logged with its
 * cause (a client that went away only at debug). The headers go out with the first bytes, so a store that
 * fails before them cuts the connection with no status at all: the log line is all that says why.
 */
export async function sendBody(
  res: Response,
  chunks: AsyncIterable<Buffer>,
  release: () => void,
  log: { logger: Logger; fields: Record<string, unknown>; what: string },
): Promise<void> {
  try {
    await pipeline(Readable.from(chunks), res);
  } catch (err) {
    // (The request being destroyed says nothing: a GET's request stream is done and destroyed once read.)
    const gone = CLIENT_GONE.has((err as NodeJS.ErrnoException).code ?? '');
    log.logger[gone ? 'debug' : 'warn']({ err, ...log.fields, sent: res.headersSent }, gone ? `${log.what}: the client went away` : log.what);
    res.destroy();
  } finally {
    release();
  }
}

/**
 * GET /download?fid=… with a token (the original's way), or a signed link (`&expires=…&sig=…`, from the email)
 * with none. Either way only the owner's file, with Range; an MP3 removed at its expiry answers 410.
 */
export function downloadRouter({ auth, mp3s, jobs, linkSecret, logger }: DownloadRouteDeps): Router {
  const router = express.Router();
  router.get('/download', tokenUnlessSigned(auth), async (req, res) => {
    const fid = requireFid(req.query.fid);
    const signed = signedQuery(req.query);
    const file = await mp3s.find(fid);
    const owner = file?.owner ?? (await jobs.findByMp3(fid))?.owner;
    // Someone else's file is indistinguishable from no file, and a link's signature is checked before its
    // file is known to exist: ids must not be probed.
    if (signed) {
      if (owner === undefined) throw invalidLink();
      const check = checkSignedLink({ mp3Fid: fid, owner, expires: signed.expires }, signed.sig, linkSecret);
      if (check === 'invalid') throw invalidLink();
      if (check === 'expired' && file) throw new AppError(403, 'link_expired', 'this download link has expired: ask for a new one');
    } else if (owner !== userOf(res).username) throw mp3NotFound();
    if (!file) {
      const job = await jobs.findByMp3(fid);
      if (job?.expiredAt) throw new AppError(410, 'mp3_expired', `this MP3 expired and was removed on ${job.expiredAt.toISOString().slice(0, 10)}`);
      throw mp3NotFound();
    }

    const range = parseRange(req.get('range'), file.length);
    if (range === 'unsatisfiable') {
      throw new AppError(416, 'range_not_satisfiable', 'range not satisfiable', { 'Content-Range': `bytes */${file.length}` });
    }
    const { start, end } = range ?? { start: 0, end: file.length - 1 };
    // The first bytes are read before the status goes out: a store that fails or hangs now is still a 503.
    const chunks = file.length === 0 || req.method === 'HEAD' ? undefined : mp3s.open(file, start, end)[Symbol.asyncIterator]();
    const first = await chunks?.next();
    res.set({
      'Content-Type': 'audio/mpeg',
      'Content-Disposition': attachment(file.filename),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'private, no-cache',
      'Last-Modified': file.uploadDate.toUTCString(),
      'Content-Length': String(file.length === 0 ? 0 : end - start + 1),
    });
    if (range) res.status(206).set('Content-Range', `bytes ${start}-${end}/${file.length}`);
    if (!chunks || !first || first.done) return void res.end();
    async function* rest() {
      yield first!.value as Buffer;
      for (let next = await chunks!.next(); !next.done; next = await chunks!.next()) yield next.value as Buffer;
    }
    // The retention sweep leaves an MP3 alone while someone downloads it.
    const release = await mp3s.holdForDownload(fid).catch(() => () => undefined);
    await sendBody(res, rest(), release, { logger, fields: { fid }, what: 'download cut short' });
  });
  router.all('/download', methodNotAllowed('GET'));
  return router;
}
