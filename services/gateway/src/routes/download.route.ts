import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, badRequest, methodNotAllowed, notFound } from '@mp3converter/shared/errors';
import { asciiFilename, safeFilename } from '@mp3converter/shared/filenames';
import type { Logger } from '@mp3converter/shared/logger';
import { parseObjectId } from '@mp3converter/shared/storage';
import { create as contentDisposition } from 'content-disposition';
import express, { type Router } from 'express';
import type { GridFsMp3Files } from '../adapters/mp3-files.js';
import type { AuthClient } from '../domain/ports.js';
import { parseRange } from '../domain/range.js';
import { authenticate, userOf } from './authenticate.js';

/** The `fid` query parameter: 400 when missing or not a 24-hex id (the original answered 500). */
export function requireFid(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw badRequest('fid_required', 'fid is required');
  if (!parseObjectId(value)) throw badRequest('invalid_fid', 'fid must be a 24-character hex id');
  return value;
}

/** `attachment` with the UTF-8 name in RFC 6266's `filename*` and a plain-ASCII `filename` for older clients. */
export function attachment(name: string): string {
  const filename = safeFilename(name) || 'audio.mp3';
  return contentDisposition(filename, { fallback: asciiFilename(filename, 'audio.mp3') });
}

export function downloadRouter(auth: AuthClient, mp3s: GridFsMp3Files, logger: Logger): Router {
  const router = express.Router();
  router.get('/download', authenticate(auth), async (req, res) => {
    const fid = requireFid(req.query.fid);
    const file = await mp3s.find(fid);
    // Someone else's file is indistinguishable from no file: ids must not be probed.
    if (!file || file.owner !== userOf(res).username) throw notFound('no such mp3', 'mp3_not_found');

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
    try {
      await pipeline(Readable.from(rest()), res);
    } catch (err) {
      // Past the headers there is no status left to give: the client sees the body cut short of Content-Length.
      if (!res.writableFinished && !req.destroyed) logger.warn({ err, fid }, 'download cut short');
      res.destroy();
    }
  });
  router.all('/download', methodNotAllowed('GET'));
  return router;
}
