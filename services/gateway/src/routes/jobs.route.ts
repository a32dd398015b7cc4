import { badRequest, methodNotAllowed } from '@mp3converter/shared/errors';
import { jobListQuerySchema } from '@mp3converter/shared/jobs';
import express, { type Router } from 'express';
import type { JobsService, LinkSigner } from '../domain/jobs.service.js';
import type { AuthClient } from '../domain/ports.js';
import { authenticate, userOf } from './authenticate.js';
import { requireFid } from './params.js';

/** The job resource: `GET /jobs`, `GET /jobs/{video_fid}` (as `/status?fid=`), `DELETE /jobs/{video_fid}`. */
export function jobsRouter(auth: AuthClient, jobs: JobsService, links: LinkSigner): Router {
  const router = express.Router();
  router.get('/jobs', authenticate(auth, 'read'), async (req, res) => {
    const query = jobListQuerySchema.safeParse(req.query);
    if (!query.success) {
      throw badRequest('invalid_query', query.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
    }
    res.set('Cache-Control', 'no-store').json(await jobs.list(userOf(res).username, query.data));
  });
  router.all('/jobs', methodNotAllowed('GET'));

  router.get('/jobs/:fid', authenticate(auth, 'read'), async (req, res) => {
    const fid = requireFid(req.params.fid);
    res.set('Cache-Control', 'no-store').json(await jobs.view(userOf(res).username, fid));
  });
  router.delete('/jobs/:fid', authenticate(auth, 'delete'), async (req, res) => {
    const fid = requireFid(req.params.fid);
    const removal = await jobs.remove(userOf(res).username, fid);
    if (removal.status === 204) res.status(204).end();
    else res.status(removal.status).json(removal.job);
  });
  router.all('/jobs/:fid', methodNotAllowed('GET', 'DELETE'));
  router.post('/jobs/:fid/link', authenticate(auth, 'read'), async (req, res) => {
    const fid = requireFid(req.params.fid);
    res.set('Cache-Control', 'no-store').json(await jobs.link(userOf(res).username, fid, links));
  });
  router.all('/jobs/:fid/link', methodNotAllowed('POST'));
  return router;
}
