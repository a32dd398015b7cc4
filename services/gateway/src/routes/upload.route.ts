import { AppError, badRequest, methodNotAllowed, unavailable } from '@mp3converter/shared/errors';
import { BrokerUnavailableError } from '@mp3converter/shared/amqp';
import { type ConversionOptions, conversionOptionsSchema, describeOptionProblems } from '@mp3converter/shared/contracts';
import type { UploadAccepted } from '@mp3converter/shared/jobs';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import type { StoredUpload } from '../adapters/gridfs-upload.storage.js';
import type { AuthClient, UploadMetrics } from '../domain/ports.js';
import { NotMediaError } from '../domain/not-media.js';
import type { Reservation, UploadAdmission } from '../domain/upload-admission.js';
import type { UploadService } from '../domain/upload.service.js';
import type { CheckedDestination, WebhooksService } from '../domain/webhooks.service.js';
import { authenticate, userOf } from './authenticate.js';
import { ObjectId } from '@mp3converter/shared/storage';

export interface UploadRouteDeps {
  auth: AuthClient;
  uploads: UploadService;
  admission: UploadAdmission;
  /** How long an upload's reservation holds unless renewed (renewed while the body arrives), ms. */
  holdMs: number;
  storage: StorageEngine;
  metrics: UploadMetrics;
  /** `notify_url`: checked before the body is read, registered for the job once the file is stored. */
  webhooks: Pick<WebhooksService, 'checkDestination' | 'registerForJob'>;
}

/** The output options from the query string, all problems named at once (400 `invalid_options`). */
export function readOptionsQuery(query: unknown): ConversionOptions {
  const parsed = conversionOptionsSchema.safeParse(query);
  if (!parsed.success) throw badRequest('invalid_options', describeOptionProblems(parsed.error));
  return parsed.data;
}

const exactlyOneFile = () => badRequest('exactly_one_file_required', 'exactly 1 file required');
const malformed = (detail: string) => badRequest('malformed_multipart', `malformed multipart body: ${detail}`);

/**
 * busboy's errors and multer's for a broken request body, by their text (they carry nothing else), and
 * what they mean in words for the client. The tests send each of them.
 */
const PARSER_ERRORS: Record<string, string> = {
  'Multipart: Boundary not found': 'the content type has no boundary',
  'Malformed content type': 'the content type cannot be read',
  'Malformed part header': 'a part has malformed headers',
  'Unexpected end of form': 'the body ends before its closing boundary',
  'Unexpected end of file': 'the body ends in the middle of the file',
  'Request aborted': 'the body was cut short',
  'Request closed': 'the body was cut short',
};

/**
 * Every error the body parser can raise, as our JSON errors: whatever the client sent wrong is a 400, never
 * a 500; every file stored by then is already discarded. Anything else goes on unchanged: our own errors,
 * store failures (503, and the driver's socket errors are plain `Error`s too, so text decides, not type),
 * and bugs (500).
 */
function uploadErrors(admission: UploadAdmission) {
  return async (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof MulterError) {
      switch (err.code) {
        case 'LIMIT_FILE_SIZE': {
          const { maxBytes, byQuota } = uploadOf(res).reservation!;
          if (byQuota) return next(await admission.quotaExceeded(userOf(res).username));
          return next(new AppError(413, 'upload_too_large', `the file is larger than the limit of ${maxBytes} bytes`));
        }
        case 'LIMIT_FILE_COUNT':
          return next(exactlyOneFile());
        default:
          return next(malformed(err.message.toLowerCase()));
      }
    }
    if (err instanceof NotMediaError) return next(new AppError(415, 'unsupported_media_type', err.message));
    if (!(err instanceof Error)) return next(err);
    const meaning = Object.getPrototypeOf(err) === Error.prototype ? PARSER_ERRORS[err.message] : undefined;
    if (meaning) return next(malformed(meaning));
    // Node's own "aborted" when the client goes away mid-body; nobody reads the answer, but the log says 400.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' && err.message === 'aborted') return next(malformed('the body was cut short'));
    next(err);
  };
}

/** What the first step of an upload learned, for the steps after it (one per response, gone with it). */
interface MultipartUpload {
  startedAt: number;
  options: ConversionOptions;
  /** Its share of the owner's limits, once reserved. */
  reservation?: Reservation;
  /** Where the end of its job goes (`notify_url`), checked. */
  notify?: CheckedDestination;
}
const inFlight = new WeakMap<Response, MultipartUpload>();
const uploadOf = (res: Response): MultipartUpload => {
  const upload = inFlight.get(res);
  if (!upload) throw new Error('the upload was not admitted');
  return upload;
};

/** `multipart/form-data` by its media type alone, whether or not its parameters parse. */
const claimsMultipart = (contentType: string | undefined) => contentType?.split(';')[0]?.trim().toLowerCase() === 'multipart/form-data';

/** The query of an upload: its output options, and where to send the end of its job (`notify_url`). */
export function splitUploadQuery(query: Record<string, unknown>): { options: Record<string, unknown>; notifyUrl: unknown } {
  const { notify_url: notifyUrl, ...options } = query;
  return { options, notifyUrl };
}

export function uploadRouter({ auth, uploads, admission, holdMs, storage, metrics, webhooks }: UploadRouteDeps): Router {
  const multerFor = (maxBytes: number) =>
    multer({
      storage,
      limits: {
        fileSize: maxBytes,
        files: 1,
        fields: 20,
        fieldSize: 64 * 1024,
        fieldNameSize: 200,
        fieldNestingDepth: 4,
        fieldArrayIndexLimit: 100,
        parts: 30,
        headerPairs: 100,
      },
      // Browsers, curl and fetch send the filename as raw UTF-8; multer would read it as latin1 (mojibake).
      defParamCharset: 'utf8',
    });
  const router = express.Router();
  router.post(
    '/upload',
    authenticate(auth, 'upload'),
    // Everything that can be refused is refused before a byte of the body is read: the options, the content
    // type, the user's jobs in flight and storage quota (a job slot and the bytes are reserved here).
    async (req: Request, res: Response, next: NextFunction) => {
      const { options, notifyUrl } = splitUploadQuery(req.query);
      const upload: MultipartUpload = { startedAt: performance.now(), options: readOptionsQuery(options) };
      if (notifyUrl !== undefined) upload.notify = await webhooks.checkDestination(notifyUrl, 'notify_url');
      inFlight.set(res, upload);
      if (!req.is('multipart/form-data')) {
        return next(claimsMultipart(req.get('content-type')) ? malformed('the content type cannot be read') : exactlyOneFile());
      }
      const declared = Number(req.get('content-length'));
      // The body (the file and the form around it) is at most its Content-Length: that much is held.
      const reservation = await admission.reserve(
        userOf(res).username,
        new ObjectId().toHexString(),
        Number.isFinite(declared) && declared > 0 ? declared : undefined,
        {
          holdMs: holdMs,
          renew: true,
        },
      );
      // Given back under the owner's lock once the job is recorded (see UploadService.enqueue), or, when the
      // upload fails, once the answer is sent.
      res.on('close', () => void reservation.release());
      upload.reservation = reservation;
      multerFor(reservation.maxBytes).any()(req, res, next);
    },
    uploadErrors(admission),
    async (req: Request, res: Response) => {
      // multer leaves `req.files` unset for a content type it cannot read, where the check above saw multipart.
      if (req.files === undefined) throw malformed('the content type cannot be read');
      const files = req.files as (Express.Multer.File & StoredUpload)[];
      const file = files[0];
      if (files.length !== 1 || !file) throw exactlyOneFile();
      const videoFid = file.id.toHexString();
      const { options, startedAt, reservation, notify } = uploadOf(res);
      // Before the job: its end cannot come before the endpoint that hears it.
      const webhook = notify ? await webhooks.registerForJob(userOf(res).username, videoFid, notify) : undefined;
      try {
        await uploads.enqueue(
          { videoFid, filename: file.originalname || null, size: file.size, contentType: file.contentType },
          userOf(res).username,
          options,
          () => reservation!.release(),
        );
      } catch (err) {
        if (err instanceof BrokerUnavailableError) throw unavailable('the job queue is unavailable, try again later', 'queue_unavailable', err);
        throw err;
      }
      metrics.uploaded('multipart', file.size, (performance.now() - startedAt) / 1000);
      const statusUrl = `/status?fid=${videoFid}`;
      const accepted: UploadAccepted = {
        video_fid: videoFid,
        state: 'queued',
        filename: file.originalname || null,
        size: file.size,
        content_type: file.contentType,
        options,
        status_url: statusUrl,
        ...(webhook ? { webhook } : {}),
      };
      // An answer with a signing secret in it is kept by no cache on the way.
      if (webhook) res.set('Cache-Control', 'no-store');
      res.status(202).location(statusUrl).json(accepted);
    },
  );
  router.all('/upload', methodNotAllowed('POST'));
  return router;
}
