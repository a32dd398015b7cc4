import { AppError, methodNotAllowed } from '@mp3converter/shared/errors';
import type { Logger } from '@mp3converter/shared/logger';
import express, { type Router } from 'express';
import type { AuthClient } from '../domain/ports.js';
import { parseRange } from '../domain/range.js';
import { type StoredMp3, type ZipDownloads, type ZipLinkSigner, zipFidsOf } from '../domain/zip-download.js';
import { authenticate, userOf } from './authenticate.js';
import { sendBody, signedQuery, tokenUnlessSigned } from './download.route.js';
import { attachment } from './params.js';

export interface ZipDownloadRouteDeps<M extends StoredMp3> {
  auth: AuthClient;
  zips: ZipDownloads<M>;
  signer: ZipLinkSigner;
  logger: Logger;
}

/**
 * GET /download.zip?fid=<video_fid>&fid=… (a token, or a signed link's `expires` and `sig`): the owner's
 * done jobs as one ZIP, streamed as it is written, with Range; `If-Range` with its ETag resumes it, any other
 * validator gets it whole. POST /download.zip/link?fid=…: a signed link to the same ZIP, for a page or an email.
 */
export function zipDownloadRouter<M extends StoredMp3>({ auth, zips, signer, logger }: ZipDownloadRouteDeps<M>): Router {
  const router = express.Router();
  router.get('/download.zip', tokenUnlessSigned(auth), async (req, res) => {
    const fids = zipFidsOf(req.query.fid);
    const signed = signedQuery(req.query);
    const plan = signed ? await zips.forLink(fids, signed) : await zips.forOwner(userOf(res).username, fids);
    const { size } = plan.layout;
    const ifRange = req.get('if-range');
    const range = ifRange === undefined || ifRange === plan.etag ? parseRange(req.get('range'), size) : undefined;
    if (range === 'unsatisfiable') throw new AppError(416, 'range_not_satisfiable', 'range not satisfiable', { 'Content-Range': `bytes */${size}` });
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.set({
      'Content-Type': 'application/zip',
      'Content-Disposition': attachment(plan.filename, 'mp3s.zip'),
      'Accept-Ranges': 'bytes',
      ETag: plan.etag,
      'Cache-Control': 'private, no-cache',
      'Last-Modified': plan.lastModified.toUTCString(),
      'Content-Length': String(end - start + 1),
    });
    if (range) res.status(206).set('Content-Range', `bytes ${start}-${end}/${size}`);
    if (req.method === 'HEAD') return void res.end();
    const release = await zips.hold(plan).catch(() => () => undefined);
    await sendBody(res, zips.stream(plan, start, end), release, {
      logger,
      fields: { jobs: fids.length, start, end },
      what: 'ZIP download cut short',
    });
  });
  router.all('/download.zip', methodNotAllowed('GET'));
  router.post('/download.zip/link', authenticate(auth, 'read'), async (req, res) => {
    const fids = zipFidsOf(req.query.fid);
    res.set('Cache-Control', 'no-store').json(await zips.link(userOf(res).username, fids, signer));
  });
  router.all('/download.zip/link', methodNotAllowed('POST'));
  return router;
}
