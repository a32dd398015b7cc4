import { badRequest, methodNotAllowed } from '@mp3converter/shared/errors';
import { deliveryListQuerySchema } from '@mp3converter/shared/webhooks';
import express, { type Router } from 'express';
import type { AuthClient } from '../domain/ports.js';
import type { WebhooksService } from '../domain/webhooks.service.js';
import { authenticate, userOf } from './authenticate.js';

/** A path segment as given; anything else (never the case for a named segment) finds nothing. */
const idOf = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * Webhooks: `/webhooks` (register, list), `/webhooks/{id}` (read, remove), `/webhooks/{id}/rotate-secret`,
 * `/webhooks/{id}/deliveries` and `…/{delivery_id}` (read), `…/{delivery_id}/redeliver`. Nothing here is
 * cached on the way: the answers carry secrets or change by the second.
 */
export function webhooksRouter(auth: AuthClient, webhooks: WebhooksService): Router {
  const router = express.Router();
  router.use('/webhooks', (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  const body = express.json({ limit: '16kb', strict: true, type: () => true });

  router.post('/webhooks', authenticate(auth, 'read'), body, async (req, res) => {
    const created = await webhooks.register(userOf(res).username, req.body);
    res.status(201).location(`/webhooks/${created.id}`).json(created);
  });
  router.get('/webhooks', authenticate(auth, 'read'), async (_req, res) => {
    res.json({ webhooks: await webhooks.list(userOf(res).username) });
  });
  router.all('/webhooks', methodNotAllowed('GET', 'POST'));

  router.get('/webhooks/:id', authenticate(auth, 'read'), async (req, res) => {
    res.json(await webhooks.get(userOf(res).username, idOf(req.params.id)));
  });
  router.delete('/webhooks/:id', authenticate(auth, 'read'), async (req, res) => {
    await webhooks.remove(userOf(res).username, idOf(req.params.id));
    res.status(204).end();
  });
  router.all('/webhooks/:id', methodNotAllowed('GET', 'DELETE'));

  router.post('/webhooks/:id/rotate-secret', authenticate(auth, 'read'), async (req, res) => {
    res.json(await webhooks.rotateSecret(userOf(res).username, idOf(req.params.id)));
  });
  router.all('/webhooks/:id/rotate-secret', methodNotAllowed('POST'));

  router.get('/webhooks/:id/deliveries', authenticate(auth, 'read'), async (req, res) => {
    const query = deliveryListQuerySchema.safeParse(req.query);
    if (!query.success) throw badRequest('invalid_query', query.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
    res.json({ deliveries: await webhooks.deliveries(userOf(res).username, idOf(req.params.id), query.data.limit) });
  });
  router.all('/webhooks/:id/deliveries', methodNotAllowed('GET'));

  router.get('/webhooks/:id/deliveries/:delivery', authenticate(auth, 'read'), async (req, res) => {
    res.json(await webhooks.delivery(userOf(res).username, idOf(req.params.id), idOf(req.params.delivery)));
  });
  router.all('/webhooks/:id/deliveries/:delivery', methodNotAllowed('GET'));

  router.post('/webhooks/:id/deliveries/:delivery/redeliver', authenticate(auth, 'read'), async (req, res) => {
    res.status(202).json(await webhooks.redeliver(userOf(res).username, idOf(req.params.id), idOf(req.params.delivery)));
  });
  router.all('/webhooks/:id/deliveries/:delivery/redeliver', methodNotAllowed('POST'));
  return router;
}
