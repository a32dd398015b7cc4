import type { IncomingMessage } from 'node:http';
import { CONVERSION_OPTION_KEYS } from '@mp3converter/shared/contracts';
import { AppError, causeOf, errorBody } from '@mp3converter/shared/errors';
import type { Logger } from '@mp3converter/shared/logger';
import { ObjectId, isMongoUnavailable } from '@mp3converter/shared/storage';
import type { Server, ServerOptions } from '@tus/server';
import { ERRORS, type Locker } from '@tus/utils';
import express, { type Router } from 'express';
import type { GridFsTusStore } from '../adapters/gridfs-tus.store.js';
import { NotMediaError } from '../domain/not-media.js';
import type { ResumableUploadCompletion } from '../adapters/resumable-upload.completion.js';
import type { AuthClient, UploadMetrics, User } from '../domain/ports.js';
import type { UploadAdmission } from '../domain/upload-admission.js';
import type { WebhooksService } from '../domain/webhooks.service.js';
import { authenticate, userOf } from './authenticate.js';
import { readOptionsQuery, splitUploadQuery } from './upload.route.js';

export interface ResumableUploadDeps {
  auth: AuthClient;
  store: GridFsTusStore;
  locker: Locker;
  completion: ResumableUploadCompletion;
  admission: UploadAdmission;
  maxUploadBytes: number;
  /** How long an unfinished upload is kept (and its share of the owner's limits held), ms. */
  expiryMs: number;
  logger: Logger;
  metrics: UploadMetrics;
  /** `notify_url` (query or `Upload-Metadata`): checked and registered at creation, its id and secret in the answer's headers. */
  webhooks: Pick<WebhooksService, 'checkDestination' | 'registerForJob'>;
}

type TusRequest = Parameters<NonNullable<ServerOptions['onIncomingRequest']>>[0];
/** A tus error as the server sends it: a status and a body. */
type TusError = { status_code: number; body: string };

const tusError = (status: number, code: string, message: string): TusError => ({ status_code: status, body: JSON.stringify(errorBody(code, message)) });
const notFound = () => tusError(404, 'upload_not_found', 'no such upload');

const nodeRequestOf = (req: TusRequest): IncomingMessage | undefined =>
  (req as unknown as { runtime?: { node?: { req: IncomingMessage } } }).runtime?.node?.req;

/** When to try again after a refusal that passes: the limits' own, the store's, a busy upload's. */
function retryAfterOf(err: unknown): string | undefined {
  if (err === ERRORS.ERR_LOCK_TIMEOUT) return '1';
  if (err instanceof AppError) return err.headers['Retry-After'];
  return isMongoUnavailable(err) ? '5' : undefined;
}

/** tus's own refusals, as our JSON errors (the status unchanged). */
const TUS_CODES: Record<number, string> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'upload_not_found',
  409: 'offset_conflict',
  410: 'upload_expired',
  412: 'unsupported_tus_version',
  413: 'upload_too_large',
  415: 'unsupported_media_type',
  460: 'checksum_mismatch',
};

/**
 * Resumable uploads (tus 1.0: core, creation, creation-with-upload, termination, expiration) at `/uploads/`,
 * beside the original's multipart `/upload`. Every request carries the bearer token and is checked by auth
 * first, as for every other route; the owner is the one auth names, and only the owner can continue, read or
 * delete an upload (404 for anyone else). The same rules as multipart: MAX_UPLOAD_BYTES at creation (the
 * length is required up front) and on every PATCH, the quota and jobs in flight at creation, the content
 * check on the first bytes (415, and the upload is gone), and on completion the job recorded and published
 * as for multipart, with the dispatcher's sweep behind it when the broker is away.
 */
export function uploadsRouter({
  auth,
  store,
  locker,
  completion,
  admission,
  maxUploadBytes,
  expiryMs,
  logger,
  metrics,
  webhooks,
}: ResumableUploadDeps): Router {
  const users = new WeakMap<IncomingMessage, User>();
  /** Headers the creation's answer carries besides tus's own (the endpoint made for `notify_url`). */
  const extraHeaders = new WeakMap<IncomingMessage, Record<string, string>>();
  /** The `Retry-After` of a refusal, set on the answer as it is written (tus's error mapping takes a status and a body only). */
  const retryAfter = new WeakMap<IncomingMessage, string>();
  const userOfTus = (req: TusRequest): User => {
    const node = nodeRequestOf(req);
    const user = node && users.get(node);
    if (!user) throw tusError(401, 'missing_credentials', 'missing credentials');
    return user;
  };

  const options: ServerOptions & { datastore: GridFsTusStore } = {
    path: '/uploads',
    datastore: store,
    locker,
    relativeLocation: true,
    // A request asked to let go of its lock (another replica wants the upload) ends this long after.
    lockDrainTimeout: 1_000,
    maxSize: maxUploadBytes,
    namingFunction: () => new ObjectId().toHexString(),
    // Never the client's proxy headers: relative locations need none.
    respectForwardedHeaders: false,
    async onIncomingRequest(req, id) {
      if (req.method === 'POST') return;
      const doc = await store.find(id);
      if (!doc || doc.owner !== userOfTus(req).username) throw notFound();
    },
    async onUploadCreate(req, upload) {
      const { username } = userOfTus(req);
      const meta = upload.metadata ?? {};
      if (upload.size === 0) throw tusError(415, 'unsupported_media_type', 'the file is empty');
      if (meta.filename && Buffer.byteLength(meta.filename) > 1024) throw tusError(400, 'bad_metadata', 'the filename is longer than 1024 bytes');
      const { options: asked, notifyUrl } = splitUploadQuery(Object.fromEntries(new URL(req.url).searchParams));
      for (const key of CONVERSION_OPTION_KEYS) if (meta[key] != null && asked[key] === undefined) asked[key] = meta[key];
      const options = readOptionsQuery(asked);
      const { notify_url: metaNotifyUrl, ...kept } = meta;
      const notifyTo = notifyUrl ?? metaNotifyUrl ?? undefined;
      const notify = notifyTo === undefined ? undefined : await webhooks.checkDestination(notifyTo, 'notify_url');
      // Larger than MAX_UPLOAD_BYTES was refused before this (tus's maxSize). Each unfinished upload is a job to
      // come and its bytes, held until its job is recorded or it is gone (terminated, not media, expired), so
      // a user cannot open uploads without end, nor many at once. Its length is exact: that much is held.
      const reservation = await admission.reserve(username, upload.id, upload.size ?? 0, { holdMs: expiryMs, renew: false });
      if (notify) {
        const node = nodeRequestOf(req);
        try {
          const webhook = await webhooks.registerForJob(username, upload.id, notify);
          if (node) extraHeaders.set(node, { 'Webhook-Id': webhook.id, 'Webhook-Secret': webhook.secret });
        } catch (err) {
          await reservation.release();
          throw err;
        }
      }
      return { metadata: { ...kept, owner: username, options: JSON.stringify(options) } };
    },
    disableTerminationForFinishedUploads: true,
    async onUploadFinish(req, upload) {
      await completion.finish(userOfTus(req).username, upload.id);
      const created = upload.creation_date ? Date.parse(upload.creation_date) : Number.NaN;
      metrics.uploaded('resumable', upload.size ?? upload.offset, Number.isNaN(created) ? 0 : (Date.now() - created) / 1000);
      return {};
    },
    onResponseError(req, err) {
      const after = retryAfterOf(err);
      const node = nodeRequestOf(req);
      if (after && node) retryAfter.set(node, after);
      // Another request held the upload past the wait (a holder that did not let go): try again shortly.
      if (err === ERRORS.ERR_LOCK_TIMEOUT) return tusError(503, 'upload_busy', 'another request is writing this upload; try again shortly');
      if ('status_code' in err && typeof err.status_code === 'number') {
        if (err.body.startsWith('{')) return { status_code: err.status_code, body: err.body };
        return tusError(err.status_code, TUS_CODES[err.status_code] ?? 'upload_failed', err.body.trim());
      }
      if (err instanceof NotMediaError) return tusError(415, 'unsupported_media_type', err.message);
      if (err instanceof AppError) return tusError(err.status, err.code, err.message);
      if (isMongoUnavailable(err)) {
        logger.warn({ err, cause: causeOf(err), code: 'storage_unavailable' }, 'resumable upload failed');
        return tusError(503, 'storage_unavailable', 'storage unavailable, try again later');
      }
      logger.error({ err, cause: causeOf(err) }, 'resumable upload failed');
      return tusError(500, 'internal', 'internal server error');
    },
  };
  // Loaded with the first request: @tus/server brings Node's fetch implementation (undici) with it, some
  // 2 MiB that a gateway nobody uploads to through tus need not hold.
  let tus: Promise<Server> | undefined;
  const server = () => (tus ??= import('@tus/server').then(({ Server }) => new Server(options)));

  const router = express.Router();
  const toTus: express.RequestHandler = (req, res, next) => {
    if (res.locals.user) users.set(req, userOf(res));
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      const after = retryAfter.get(req);
      if (after && !this.hasHeader('retry-after')) this.setHeader('Retry-After', after);
      const extra = extraHeaders.get(req);
      if (extra && (typeof args[0] === 'number' ? args[0] : this.statusCode) === 201) {
        for (const [name, value] of Object.entries(extra)) this.setHeader(name, value);
        // It carries a secret: no cache on the way keeps it.
        this.setHeader('Cache-Control', 'no-store');
      }
      return writeHead.apply(this, args);
    } as typeof writeHead;
    server()
      .then((t) => t.handle(req, res))
      .catch(next);
  };
  const paths = ['/uploads', '/uploads/{*rest}'];
  // OPTIONS tells what the server supports (tus discovery) and touches no upload: no token needed.
  router.options(paths, toTus);
  router.all(paths, authenticate(auth, 'upload'), toTus);

  return router;
}
