import { AppError, badRequest, methodNotAllowed, unavailable } from '@mp3converter/shared/errors';
import { BrokerUnavailableError } from '@mp3converter/shared/amqp';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import type { StoredUpload } from '../adapters/gridfs-upload.storage.js';
import type { AuthClient } from '../domain/ports.js';
import type { UploadService } from '../domain/upload.service.js';
import { authenticate, userOf } from './authenticate.js';

export interface UploadRouteDeps {
  auth: AuthClient;
  uploads: UploadService;
  storage: StorageEngine;
  maxUploadBytes: number;
}

const exactlyOneFile = () => badRequest('exactly_one_file_required', 'exactly 1 file required');

/** multer's errors as our JSON errors; every file it had stored is already removed by then. */
function multerErrors(maxUploadBytes: number) {
  return (err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    if (!(err instanceof MulterError)) return next(err);
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return next(new AppError(413, 'upload_too_large', `the file is larger than the limit of ${maxUploadBytes} bytes`));
      case 'LIMIT_FILE_COUNT':
        return next(exactlyOneFile());
      default:
        return next(badRequest('malformed_multipart', `malformed multipart body: ${err.message}`));
    }
  };
}

export function uploadRouter({ auth, uploads, storage, maxUploadBytes }: UploadRouteDeps): Router {
  const upload = multer({
    storage,
    limits: { fileSize: maxUploadBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30, headerPairs: 100 },
  });
  const router = express.Router();
  router.post(
    '/upload',
    authenticate(auth),
    (req: Request, res: Response, next: NextFunction) => {
      if (!req.is('multipart/form-data')) return next(exactlyOneFile());
      upload.any()(req, res, next);
    },
    multerErrors(maxUploadBytes),
    async (req: Request, res: Response) => {
      const files = (req.files ?? []) as (Express.Multer.File & StoredUpload)[];
      const file = files[0];
      if (files.length !== 1 || !file) throw exactlyOneFile();
      const videoFid = file.id.toHexString();
      try {
        await uploads.enqueue({ videoFid, filename: file.originalname || null }, userOf(res).username);
      } catch (err) {
        if (err instanceof BrokerUnavailableError) throw unavailable('the job queue is unavailable, try again later', 'queue_unavailable');
        throw err;
      }
      const statusUrl = `/status?fid=${videoFid}`;
      res
        .status(202)
        .location(statusUrl)
        .json({
          video_fid: videoFid,
          state: 'queued',
          filename: file.originalname || null,
          size: file.size,
          content_type: file.contentType,
          status_url: statusUrl,
        });
    },
  );
  router.all('/upload', methodNotAllowed('POST'));
  return router;
}
