import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../logger/index.js';

/**
 * The one error type services throw on purpose. `code` is stable and machine-readable; `message` is meant
 * for people and is sent as is, so it must never carry driver or internal detail.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** What made it happen (a driver's error), for the log line only: never sent. */
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

/** The cause of an error as a log line carries it: its class, its message and the operation it failed in. */
export interface CauseSummary {
  type: string;
  message: string;
  operation?: string;
  code?: string | number;
}

/**
 * The innermost cause of `err` (itself when it has none), summed up for a log line. `operation` is what the
 * error says it was doing: set by the storage deadline (`withDeadline`) on whatever failed inside it.
 */
export function causeOf(err: unknown): CauseSummary | undefined {
  let inner = err;
  for (let depth = 0; depth < 5 && inner instanceof Error && inner.cause !== undefined; depth++) inner = inner.cause;
  if (inner === undefined || inner === null) return undefined;
  if (!(inner instanceof Error)) return { type: typeof inner, message: String(inner) };
  const { operation, code } = inner as { operation?: unknown; code?: unknown };
  return {
    type: inner.constructor?.name && inner.constructor.name !== 'Error' ? inner.constructor.name : inner.name,
    message: inner.message,
    ...(typeof operation === 'string' ? { operation } : {}),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
  };
}

/** A job that will fail the same way every time: no retry; `reason` is shown to users. */
export class PermanentFailure extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'PermanentFailure';
  }
}

/** A job that failed because something gave way (a dependency, a killed process): worth another try later. */
export class TransientFailure extends Error {
  /** Stopped for taking longer than its limit (rather than a dependency failing), as metrics tell them apart. */
  readonly timedOut: boolean;

  constructor(
    readonly reason: string,
    options?: { cause?: unknown; timedOut?: boolean },
  ) {
    super(reason, options);
    this.name = 'TransientFailure';
    this.timedOut = options?.timedOut ?? false;
  }
}

export const badRequest = (code: string, message: string) => new AppError(400, code, message);
export const unauthorized = (message = 'missing credentials', code = 'unauthorized') => new AppError(401, code, message);
export const forbidden = (message = 'not authorized', code = 'forbidden') => new AppError(403, code, message);
export const notFound = (message = 'not found', code = 'not_found') => new AppError(404, code, message);
/** `cause`: what failed underneath, for the log line (never sent). */
export const unavailable = (message = 'service unavailable, try again later', code = 'unavailable', cause?: unknown) =>
  new AppError(503, code, message, { 'Retry-After': '5' }, cause === undefined ? undefined : { cause });

/** The body of every error response of every service, 4xx and 5xx alike. */
export const errorBodySchema = z
  .object({
    error: z.object({
      /** Stable and machine-readable (`job_not_found`, `invalid_options`, …): what clients branch on. */
      code: z
        .string()
        .min(1)
        .meta({ examples: ['job_not_found'] }),
      /** For people; never internal detail. */
      message: z.string().meta({ examples: ['no such job'] }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error: a stable code and a message for people.' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const errorBody = (code: string, message: string): ErrorBody => ({ error: { code, message } });

/** Express's own errors (body-parser and friends) carry a status; map the common ones to stable codes. */
function fromHttpError(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
  if (typeof e.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  const code = typeof e.type === 'string' ? e.type.replace(/\./g, '_') : 'bad_request';
  const message = e.expose === true && typeof e.message === 'string' ? e.message : 'bad request';
  return new AppError(e.status, code, message);
}

/**
 * For `router.all(path, ...)` after a path's real methods: 405 with `Allow`, as JSON. The handler keeps the
 * methods it names, so that what a router serves can be listed (and checked against the API's description).
 */
export const methodNotAllowed = (...allowed: string[]): RequestHandler & { readonly allowed: readonly string[] } =>
  Object.assign<RequestHandler, { allowed: readonly string[] }>(
    (req, _res, next) => {
      next(new AppError(405, 'method_not_allowed', `${req.method} is not allowed here`, { Allow: allowed.join(', ') }));
    },
    { allowed },
  );

/** Unknown paths answer JSON 404 rather than Express's HTML page. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`no route for ${req.method} ${req.path}`, 'route_not_found'));
};

/** The one place an error becomes a response: JSON, the right status, nothing internal on 5xx. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = err instanceof AppError ? err : fromHttpError(err);
    if (known) {
      if (known.status >= 500) logger.warn({ err, cause: causeOf(err), path: req.path, code: known.code }, 'request failed');
      if (res.headersSent) return res.destroy();
      res.set(known.headers).status(known.status).json(errorBody(known.code, known.message));
      return;
    }
    logger.error({ err, cause: causeOf(err), path: req.path, method: req.method }, 'unhandled error');
    if (res.headersSent) return res.destroy();
    res.status(500).json(errorBody('internal', 'internal server error'));
  };
}
