import { methodNotAllowed } from '@mp3converter/shared/errors';
import express, { type Router } from 'express';
import type { JobsService } from '../domain/jobs.service.js';
import type { AuthClient } from '../domain/ports.js';
import { authenticate, userOf } from './authenticate.js';
import { requireFid } from './params.js';

/** GET /status?fid=<video_fid>: the owner's view of a conversion job, the same as GET /jobs/{video_fid}. */
export function statusRouter(auth: AuthClient, jobs: JobsService): Router {
  const router = express.Router();
  router.get('/status', authenticate(auth, 'read'), async (req, res) => {
    const fid = requireFid(req.query.fid);
    res.set('Cache-Control', 'no-store').json(await jobs.view(userOf(res).username, fid));
  });
  router.all('/status', methodNotAllowed('GET'));
  return router;
}
