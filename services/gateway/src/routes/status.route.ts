import { methodNotAllowed, notFound } from '@mp3converter/shared/errors';
import express, { type Router } from 'express';
import type { AuthClient, JobRepository } from '../domain/ports.js';
import { authenticate, userOf } from './authenticate.js';
import { requireFid } from './download.route.js';

/** GET /status?fid=<video_fid>: the owner's view of a conversion job. */
export function statusRouter(auth: AuthClient, jobs: JobRepository): Router {
  const router = express.Router();
  router.get('/status', authenticate(auth), async (req, res) => {
    const fid = requireFid(req.query.fid);
    const job = await jobs.get(fid);
    if (!job || job.owner !== userOf(res).username) throw notFound('no such job', 'job_not_found');
    res.set('Cache-Control', 'no-store').json({
      video_fid: job.videoFid,
      state: job.state,
      mp3_fid: job.mp3Fid,
      reason: job.reason,
      filename: job.filename,
      download_url: job.mp3Fid ? `/download?fid=${job.mp3Fid}` : null,
      created_at: job.createdAt.toISOString(),
      updated_at: job.updatedAt.toISOString(),
    });
  });
  router.all('/status', methodNotAllowed('GET'));
  return router;
}
