import { loginBodySchema } from '@mp3converter/shared/contracts';
import { errorBodySchema } from '@mp3converter/shared/errors';
import {
  downloadLinkSchema,
  fidSchema,
  jobListQuerySchema,
  jobListSchema,
  jobViewSchema,
  streamedJobEventSchema,
  uploadAcceptedSchema,
} from '@mp3converter/shared/jobs';
import type { ApiKeyScope } from '@mp3converter/shared/contracts/api-keys';
import { z } from 'zod';
import { keysPaths } from './keys.openapi.js';
import { MAX_ZIP_JOBS } from '../domain/zip-download.js';
import { PAGE_FILES } from './page.route.js';
import { notifyUrlHeaders, notifyUrlRefusals, uploadQuerySchema, webhookEvents, webhookPaths } from './openapi.webhooks.js';
import { type ZodOpenApiObject, type ZodOpenApiOperationObject, type ZodOpenApiResponseObject, createDocument } from 'zod-openapi';

/**
 * The gateway's API as an OpenAPI 3.1 document, built from the zod schemas that check its requests and shape
 * its answers (`@mp3converter/shared`): what the document says a body is, the code sends. Served at
 * `/openapi.json` and read by the page at `/docs`.
 */

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

const retryAfter = z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait before trying again.' }) });

/** An error answer: the shared error body, and the codes this status carries here. */
const error = (codes: string, headers?: z.ZodObject): ZodOpenApiResponseObject => ({
  description: codes,
  content: json(errorBodySchema),
  ...(headers ? { headers } : {}),
});

const noToken = error('`missing_credentials` (no Authorization header), `malformed_authorization` (not `Bearer <token>`)');
const badToken = error(
  '`invalid_token`: auth refused the token (bad signature, expired, …); `invalid_api_key`: an unknown, revoked or expired API key; `insufficient_scope`: the API key lacks the scope this operation names (with `WWW-Authenticate: Bearer error="insufficient_scope"`)',
);
const unavailable = (codes: string) => error(codes, retryAfter);
const storeDown = unavailable('`auth_unavailable`, `storage_unavailable`: auth or MongoDB down or not answering in time');
const badFid = error('`fid_required`, `invalid_fid`: the fid is missing or not a 24-character hex id');
/** What any call on one of the caller's jobs can answer besides its own outcome. */
const ownJobRefusals = {
  '400': badFid,
  '401': noToken,
  '403': badToken,
  '404': error("`job_not_found`: no such job, or someone else's (indistinguishable)"),
  '503': storeDown,
} satisfies Record<string, ZodOpenApiResponseObject>;

/** A login token, or an API key with `scope`: each operation that takes a key names the one scope it needs. */
const scoped = (scope: ApiKeyScope): Record<string, string[]>[] => [{ bearer: [] }, { apiKey: [scope] }];
const linkExpires = z.coerce.number().int().optional().meta({ description: 'Signed link: its expiry, Unix seconds.' });
const rangeHeader = (example: string) =>
  z
    .string()
    .optional()
    .meta({ description: 'One range, `bytes=<start>-<end>`.', examples: [example] });
const noStore = z.object({ 'Cache-Control': z.literal('no-store') });

const jobPath = z.object({ video_fid: fidSchema.meta({ description: "The job's key: its video's id." }) });

const tusRequestHeaders = z.object({ 'Tus-Resumable': z.literal('1.0.0').meta({ description: 'The tus version; required on every request but OPTIONS.' }) });
const tusResumable = z.object({ 'Tus-Resumable': z.literal('1.0.0') });
const uploadId = z.object({ upload_id: fidSchema.meta({ description: "The upload's id, which is also its job's `video_fid`." }) });
/**
 * The tus server labels every body it writes `text/plain`: its refusals carry our JSON error body as that
 * text; the few it answers before any of our code runs (a missing or invalid tus header) carry its own words.
 */
const errorAsText = {
  type: 'string',
  contentMediaType: 'application/json',
  contentSchema: { $ref: '#/components/schemas/Error' },
} as const;
const tusError = (codes: string): ZodOpenApiResponseObject => ({
  description: `${codes} (the error body, sent as text/plain by the tus server)`,
  content: { 'text/plain': { schema: errorAsText } },
});
const tusProtocolError = (codes: string): ZodOpenApiResponseObject => ({
  description: `${codes} (the error body, sent as text/plain by the tus server); a missing or invalid tus header gets the tus server's own words`,
  content: { 'text/plain': { schema: { type: 'string' } } },
});
/** A 503: auth's (JSON, before tus), or the store's and the lock's (from the tus server). */
const tusUnavailable: ZodOpenApiResponseObject = {
  description: '`auth_unavailable` (JSON), `storage_unavailable`, `upload_busy` (another request holds the upload; text/plain)',
  headers: z.object({ 'Retry-After': z.string().optional() }),
  content: { ...json(errorBodySchema), 'text/plain': { schema: errorAsText } },
};

const tusOptions: ZodOpenApiOperationObject = {
  tags: ['resumable uploads'],
  summary: 'What the tus server supports (no token needed)',
  security: [],
  responses: {
    '204': {
      description: 'The supported version, extensions and maximum size.',
      headers: z.object({
        'Tus-Resumable': z.literal('1.0.0'),
        'Tus-Version': z.string().meta({ examples: ['1.0.0'] }),
        'Tus-Extension': z.string().meta({ examples: ['creation,creation-with-upload,termination,expiration'] }),
        'Tus-Max-Size': z.string().meta({ description: 'MAX_UPLOAD_BYTES.' }),
      }),
    },
  },
};

const uploadLimits = {
  '413': error(
    "`upload_too_large` (over MAX_UPLOAD_BYTES), `quota_exceeded` (the user's storage and uploads in progress would pass USER_STORAGE_QUOTA_BYTES; with Retry-After when uploads in progress hold part of it)",
    z.object({ 'Retry-After': z.string().optional() }),
  ),
  '415': error('`unsupported_media_type`: neither a video nor an audio container, judged on the first bytes'),
  '429': error('`too_many_jobs`: the user has MAX_JOBS_IN_FLIGHT jobs queued or converting, uploads in progress counted', retryAfter),
} satisfies Record<string, ZodOpenApiResponseObject>;

const PAGE_TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css', map: 'application/json', txt: 'text/plain' };

/** The web page at `/` and its files (see page.route.ts): served only where the page was built. */
function pagePaths(): ZodOpenApiObject['paths'] {
  return Object.fromEntries(
    Object.entries(PAGE_FILES).map(([path, file]) => [
      path,
      {
        get: {
          tags: ['page'],
          summary: path === '/' ? 'The web page: log in, upload, follow, play and download' : `The page's ${file}`,
          security: [],
          responses: {
            '200': {
              description: 'The file (revalidated with its ETag).',
              content: { [PAGE_TYPES[file.split('.').pop()!] ?? 'application/octet-stream']: { schema: { type: 'string' } } },
            },
            '304': { description: 'Not modified since the ETag given.' },
            '404': error('`route_not_found`: the page was not built into this gateway'),
          },
        },
      },
    ]),
  );
}

const paths: ZodOpenApiObject['paths'] = {
  '/login': {
    post: {
      tags: ['auth'],
      summary: 'Log in: a JWT for the other routes',
      description: 'HTTP Basic `email:password`, or the JSON body. Forwarded to auth, whose status and body come back unchanged.',
      security: [{ basic: [] }, {}],
      requestBody: { required: false, content: json(loginBodySchema) },
      responses: {
        '200': {
          description: 'The JWT (HS256, 24 h), as text.',
          headers: noStore,
          content: { 'text/plain': { schema: z.string().meta({ description: 'A JWT.' }) } },
        },
        '401': error('`missing_credentials`, `invalid_credentials`', z.object({ 'WWW-Authenticate': z.string() })),
        '413': error('`entity_too_large`: a body over 10 KiB'),
        '429': error('`too_many_attempts`: too many failed logins from this address', retryAfter),
        '503': unavailable("`auth_unavailable` (auth not answering in AUTH_TIMEOUT_MS), `unavailable` (auth's database down)"),
      },
    },
  },
  '/upload': {
    post: {
      tags: ['uploads'],
      summary: 'Upload a video (multipart) and queue its conversion',
      description:
        'Exactly one file, under any field name, streamed into storage as it arrives. The output options go in the query string: a field after the file would come too late.',
      security: scoped('upload'),
      requestParams: { query: uploadQuerySchema },
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              description: 'One file part; its filename is kept (UTF-8, or RFC 5987 `filename*`).',
              properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } },
            },
          },
        },
      },
      responses: {
        '202': {
          description: 'Accepted: the job is queued.',
          headers: z.object({ Location: z.string().meta({ description: '`/status?fid=<video_fid>`' }) }),
          content: json(uploadAcceptedSchema),
        },
        '400': error(`\`invalid_options\` (every problem named), \`exactly_one_file_required\`, \`malformed_multipart\`${notifyUrlRefusals}`),
        '401': noToken,
        '403': badToken,
        ...uploadLimits,
        '503': unavailable('`auth_unavailable`, `storage_unavailable`, `queue_unavailable`'),
      },
    },
  },
  '/uploads': {
    options: tusOptions,
    post: {
      tags: ['resumable uploads'],
      summary: 'tus 1.0: create a resumable upload',
      description:
        'tus core with the creation, creation-with-upload, termination and expiration extensions. The output options (and `notify_url`) go in the query string or as `Upload-Metadata` keys, beside `filename` and `filetype`.',
      security: scoped('upload'),
      requestParams: {
        query: uploadQuerySchema,
        header: tusRequestHeaders.extend({
          'Upload-Length': z.coerce.number().int().positive().meta({ description: 'The whole file, bytes (no deferred length).' }),
          'Upload-Metadata': z
            .string()
            .optional()
            .meta({ description: 'Comma-separated `key base64(value)` pairs: `filename`, `filetype`, and options.', examples: ['filename dGFsay5tcDQ='] }),
        }),
      },
      requestBody: {
        required: false,
        description: 'creation-with-upload: the first bytes, with `Content-Type: application/offset+octet-stream`.',
        content: { 'application/offset+octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
      },
      responses: {
        '201': {
          description: 'Created; PATCH the bytes to `Location`.',
          headers: tusResumable.extend({
            Location: z.string().meta({ description: '`/uploads/<upload_id>`' }),
            'Upload-Expires': z.string().meta({ description: 'When an unfinished upload is removed (RFC 7231 date).' }),
            'Upload-Offset': z.string().optional().meta({ description: 'With creation-with-upload: the bytes taken.' }),
            ...notifyUrlHeaders.shape,
          }),
        },
        '400': tusProtocolError(`\`invalid_options\`, \`bad_metadata\`, \`bad_request\`${notifyUrlRefusals}`),
        '401': noToken,
        '403': badToken,
        '412': tusProtocolError('`unsupported_tus_version`'),
        '413': tusError(
          "`upload_too_large` (over MAX_UPLOAD_BYTES), `quota_exceeded` (the user's storage and uploads in progress would pass USER_STORAGE_QUOTA_BYTES; with Retry-After when uploads in progress hold part of it)",
        ),
        '415': tusError('`unsupported_media_type`: an empty file'),
        '429': { ...tusError('`too_many_jobs`: the user has MAX_JOBS_IN_FLIGHT jobs queued or converting, uploads in progress counted'), headers: retryAfter },
        '503': tusUnavailable,
      },
    },
  },
  '/uploads/{upload_id}': {
    options: tusOptions,
    head: {
      tags: ['resumable uploads'],
      summary: 'tus 1.0: the offset the server holds, to resume from',
      security: scoped('upload'),
      requestParams: { path: uploadId, header: tusRequestHeaders },
      responses: {
        '200': {
          description: 'Where the upload stands (no body).',
          headers: tusResumable.extend({
            'Upload-Offset': z.string(),
            'Upload-Length': z.string(),
            'Upload-Metadata': z.string().optional(),
            'Upload-Expires': z.string().optional(),
            'Cache-Control': z.literal('no-store'),
          }),
        },
        '401': { description: 'No or malformed Authorization header (no body: HEAD).' },
        '403': { description: 'The token was refused (no body: HEAD).' },
        '404': { description: "No such upload, someone else's, or expired and removed (no body: HEAD)." },
        '410': { description: 'Expired (no body: HEAD).' },
        '412': { description: 'No or another `Tus-Resumable` (no body: HEAD).' },
        '503': { description: "auth, MongoDB or the upload's lock unavailable (no body: HEAD)." },
      },
    },
    patch: {
      tags: ['resumable uploads'],
      summary: 'tus 1.0: send bytes from an offset',
      security: scoped('upload'),
      requestParams: {
        path: uploadId,
        header: tusRequestHeaders.extend({
          'Upload-Offset': z.coerce.number().int().nonnegative().meta({ description: 'Must be the offset the server holds.' }),
        }),
      },
      requestBody: {
        required: true,
        content: { 'application/offset+octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
      },
      responses: {
        '204': {
          description: 'Bytes taken; once the last is in, the job is recorded and queued as for `/upload`.',
          headers: tusResumable.extend({ 'Upload-Offset': z.string(), 'Upload-Expires': z.string().optional() }),
        },
        '400': tusProtocolError('`bad_request`'),
        '401': noToken,
        '403': badToken,
        '404': tusError("`upload_not_found`: no such upload, or someone else's"),
        '409': tusError('`offset_conflict`: `Upload-Offset` is not the offset the server holds'),
        '410': tusError('`upload_expired`'),
        '412': tusProtocolError('`unsupported_tus_version`'),
        '413': tusError('`upload_too_large`'),
        '415': tusError(
          '`unsupported_media_type`: the first bytes are not media (the upload is removed), or a PATCH without `application/offset+octet-stream`',
        ),
        '503': tusUnavailable,
      },
    },
    delete: {
      tags: ['resumable uploads'],
      summary: 'tus 1.0 termination: abandon an unfinished upload',
      security: scoped('upload'),
      requestParams: { path: uploadId, header: tusRequestHeaders },
      responses: {
        '204': { description: 'Removed.', headers: tusResumable },
        '400': tusProtocolError('`bad_request`: a finished upload (delete its job with `DELETE /jobs/{video_fid}`)'),
        '401': noToken,
        '403': badToken,
        '404': tusError('`upload_not_found`'),
        '412': tusProtocolError('`unsupported_tus_version`'),
        '503': tusUnavailable,
      },
    },
  },
  '/download': {
    get: {
      tags: ['downloads'],
      summary: 'Download an MP3 (token or signed link), with Range',
      description:
        "With a bearer token, or with a signed link (`expires` and `sig`, from the email or `POST /jobs/{video_fid}/link`) and no token at all. Only the owner's file.",
      security: [...scoped('read'), {}],
      requestParams: {
        query: z.object({
          fid: fidSchema.meta({ description: "The MP3's id (a job's `mp3_fid`)." }),
          expires: linkExpires,
          sig: z.string().optional().meta({ description: 'Signed link: its HMAC-SHA256, base64url.' }),
        }),
        header: z.object({ Range: rangeHeader('bytes=0-1023') }),
      },
      responses: {
        '200': {
          description: 'The MP3, named after the video (RFC 6266 `filename*` and an ASCII `filename`).',
          headers: z.object({
            'Content-Length': z.string(),
            'Content-Disposition': z.string(),
            'Accept-Ranges': z.literal('bytes'),
            'Last-Modified': z.string(),
          }),
          content: { 'audio/mpeg': { schema: { type: 'string', contentMediaType: 'audio/mpeg' } } },
        },
        '206': {
          description: 'The bytes of the range asked for.',
          headers: z.object({ 'Content-Range': z.string().meta({ examples: ['bytes 0-1023/48213'] }), 'Content-Length': z.string() }),
          content: { 'audio/mpeg': { schema: { type: 'string', contentMediaType: 'audio/mpeg' } } },
        },
        '400': badFid,
        '401': noToken,
        '403': error(
          '`invalid_token`, `invalid_api_key`, `insufficient_scope`; `invalid_link`: a signed link altered in any part, without its signature, or naming no MP3 (all answered alike); `link_expired`',
        ),
        '404': error("`mp3_not_found` (with a token): no such MP3, or someone else's (indistinguishable)"),
        '410': error('`mp3_expired`: the MP3 expired and was removed'),
        '416': error('`range_not_satisfiable`', z.object({ 'Content-Range': z.string().meta({ examples: ['bytes */48213'] }) })),
        '503': storeDown,
      },
    },
  },
  '/download.zip': {
    get: {
      tags: ['downloads'],
      summary: 'Download several done jobs as one ZIP (token or signed link), with Range',
      description: [
        `One \`fid\` per job (its \`video_fid\`), at most ${MAX_ZIP_JOBS}, each once; the entries come in that order, each job's MP3 named after its video, made safe (no folders, \`..\`, control or Windows-reserved characters) and unique regardless of case (\`talk.mp3\`, \`talk (2).mp3\`).`,
        'Stored (MP3 does not compress), ZIP64 past 4 GiB or 65,535 entries, streamed as it is written. Its bytes are the same on every download of the same jobs, so a cut download resumes with `Range` (and `If-Range` with the ETag); a stale `If-Range` gets the whole ZIP (200).',
        'With a bearer token, or with a signed link (`expires` and `sig`, from `POST /download.zip/link`) and no token.',
      ].join('\n\n'),
      security: [...scoped('read'), {}],
      requestParams: {
        query: z.object({
          fid: z.array(fidSchema).min(1).max(MAX_ZIP_JOBS).meta({ description: "The jobs' `video_fid`s, repeated: `fid=…&fid=…`." }),
          expires: linkExpires,
          sig: z.string().optional().meta({ description: 'Signed link: its HMAC-SHA256 over the ids in order, base64url.' }),
        }),
        header: z.object({
          Range: rangeHeader('bytes=1048576-'),
          'If-Range': z.string().optional().meta({ description: 'The ETag of the ZIP being resumed: the range is sent only while it still matches.' }),
        }),
      },
      responses: {
        '200': {
          description: "The ZIP (`mp3s.zip`, or the video's name for one job).",
          headers: z.object({
            'Content-Length': z.string(),
            'Content-Disposition': z.string(),
            'Accept-Ranges': z.literal('bytes'),
            ETag: z.string().meta({ description: 'Strong; the same for the same bytes.' }),
            'Last-Modified': z.string(),
          }),
          content: { 'application/zip': { schema: { type: 'string', contentMediaType: 'application/zip' } } },
        },
        '206': {
          description: 'The bytes of the range asked for.',
          headers: z.object({
            'Content-Range': z.string().meta({ examples: ['bytes 1048576-5242879/5242880'] }),
            'Content-Length': z.string(),
            ETag: z.string(),
          }),
          content: { 'application/zip': { schema: { type: 'string', contentMediaType: 'application/zip' } } },
        },
        '400': error(
          `\`fid_required\`, \`invalid_fid\` (not a 24-character hex id), \`duplicate_fid\` (a job given twice), \`too_many_fids\` (over ${MAX_ZIP_JOBS})`,
        ),
        '401': noToken,
        '403': error(
          "`invalid_token`; `invalid_link`: a signed link altered in any part, or naming a job that is not its owner's (all answered alike); `link_expired`",
        ),
        '404': error("`job_not_found`: no such job, someone else's or deleted (indistinguishable), each named; `mp3_not_found`: its MP3 is gone"),
        '409': error('`job_not_done`: jobs with no MP3 (queued, converting, failed, cancelled), each named with its state'),
        '410': error('`mp3_expired`: MP3s that expired and were removed, each named'),
        '416': error('`range_not_satisfiable`', z.object({ 'Content-Range': z.string().meta({ examples: ['bytes */5242880'] }) })),
        '503': storeDown,
      },
    },
  },
  '/download.zip/link': {
    post: {
      tags: ['downloads'],
      summary: 'A signed link to the ZIP of several done jobs',
      description:
        "The same `fid`s as `GET /download.zip`, checked the same way. Valid until DOWNLOAD_LINK_TTL_SECONDS from now or the first of the MP3s' own expiries; works without a token, with Range.",
      security: scoped('read'),
      requestParams: { query: z.object({ fid: z.array(fidSchema).min(1).max(MAX_ZIP_JOBS) }) },
      responses: {
        '200': { description: 'The link.', headers: noStore, content: json(downloadLinkSchema) },
        '400': error('`fid_required`, `invalid_fid`, `duplicate_fid`, `too_many_fids`'),
        '401': noToken,
        '403': badToken,
        '404': error('`job_not_found`, `mp3_not_found`'),
        '409': error('`job_not_done`'),
        '410': error('`mp3_expired`'),
        '503': storeDown,
      },
    },
  },
  '/status': {
    get: {
      tags: ['jobs'],
      summary: "A job, by its video's id (the original's route; the same as `GET /jobs/{video_fid}`)",
      security: scoped('read'),
      requestParams: { query: z.object({ fid: fidSchema.meta({ description: "The job's `video_fid`." }) }) },
      responses: {
        '200': { description: 'The job.', headers: noStore, content: json(jobViewSchema) },
        ...ownJobRefusals,
      },
    },
  },
  '/jobs': {
    get: {
      tags: ['jobs'],
      summary: "The user's jobs, newest first, a page at a time",
      security: scoped('read'),
      requestParams: { query: jobListQuerySchema },
      responses: {
        '200': { description: 'A page of jobs.', headers: noStore, content: json(jobListSchema) },
        '400': error('`invalid_query`: `limit` outside 1–100, or a malformed `cursor`; `invalid_cursor`: the `cursor` is not one of your jobs'),
        '401': noToken,
        '403': badToken,
        '503': storeDown,
      },
    },
  },
  '/jobs/{video_fid}': {
    get: {
      tags: ['jobs'],
      summary: 'One job',
      security: scoped('read'),
      requestParams: { path: jobPath },
      responses: {
        '200': { description: 'The job.', headers: noStore, content: json(jobViewSchema) },
        ...ownJobRefusals,
      },
    },
    delete: {
      tags: ['jobs'],
      summary: 'Cancel a job, or remove a finished one and its files',
      description: 'Idempotent: each DELETE answers for the state the job is in when it arrives; repeat until 204 to have it gone whatever its state.',
      security: scoped('delete'),
      requestParams: { path: jobPath },
      responses: {
        '200': { description: 'A queued job, cancelled at once (its video removed).', content: json(jobViewSchema) },
        '202': {
          description: 'A converting job: its converter is told to stop (`cancel_requested`); a `cancelled` event follows.',
          content: json(jobViewSchema),
        },
        '204': { description: 'A done, failed or cancelled job: its MP3, video and job are removed (again: 204).' },
        ...ownJobRefusals,
        '409': error('`job_finishing` (its MP3 is being announced: delete it once done), `job_busy` (it kept changing; try again)'),
      },
    },
  },
  '/jobs/{video_fid}/link': {
    post: {
      tags: ['jobs'],
      summary: 'A fresh signed download link for a done job',
      description: "Valid until DOWNLOAD_LINK_TTL_SECONDS from now or the MP3's own expiry, whichever comes first; works without a token, with Range.",
      security: scoped('read'),
      requestParams: { path: jobPath },
      responses: {
        '200': { description: 'The link.', headers: noStore, content: json(downloadLinkSchema) },
        ...ownJobRefusals,
        '409': error('`job_not_done`: only a done job has an MP3'),
        '410': error('`mp3_expired`'),
      },
    },
  },
  '/events': {
    get: {
      tags: ['events'],
      summary: "Server-Sent Events: every change of the user's jobs",
      description:
        "One stream per user. `retry: 3000` first; then, for a fresh stream, `event: ready` (read `GET /jobs` after it: between the two nothing is missed), or, with `Last-Event-ID`, the current state of each job that changed since. Then `event: job` with a `JobEvent` as `data` for every change and progress tick; `id:` is the event's time in epoch milliseconds; a `: keep-alive` comment every EVENTS_KEEPALIVE_MS. The stream ends when the token that opened it expires: reconnect with a fresh one.",
      security: scoped('read'),
      requestParams: {
        header: z.object({ 'Last-Event-ID': z.string().optional().meta({ description: 'The last `id:` seen, to resume after a reconnect.' }) }),
      },
      responses: {
        '200': {
          description: "The stream (`text/event-stream`); each `job` event's `data` is a `JobEvent`.",
          content: { 'text/event-stream': { schema: { type: 'string', examples: ['id: 1763815957186\nevent: job\ndata: {"type":"progress",…}\n\n'] } } },
        },
        '401': noToken,
        '403': badToken,
        '429': error('`too_many_streams`: MAX_EVENT_STREAMS_PER_USER streams open on this replica', retryAfter),
        '503': unavailable('`auth_unavailable`'),
      },
    },
  },
  ...keysPaths({ error, noToken, unavailable }),
  ...webhookPaths({ json, error, noToken, badToken, storeDown, security: scoped('read'), noStore }),
  ...pagePaths(),
  '/openapi.json': {
    get: {
      tags: ['reference'],
      summary: 'This document',
      security: [],
      responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
  '/docs': {
    get: {
      tags: ['reference'],
      summary: 'A readable reference page of this document (works offline)',
      security: [],
      responses: { '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
  '/docs/{asset}': {
    get: {
      tags: ['reference'],
      summary: "The reference page's own scripts and styles",
      security: [],
      requestParams: { path: z.object({ asset: z.string() }) },
      responses: {
        '200': {
          description: 'The file.',
          content: {
            'text/css': { schema: { type: 'string' } },
            'text/javascript': { schema: { type: 'string' } },
            'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
          },
        },
        '404': error('`route_not_found`'),
      },
    },
  },
};

export function gatewayDocument(): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.1',
    info: {
      title: 'mp3converter gateway',
      version: '1.0.0',
      description: [
        'Video → MP3 conversion: log in, upload a video, follow its job, download the MP3.',
        '',
        'Every error body is `Error`: `{"error": {"code", "message"}}`; the code is stable, the message is for people, and a 5xx never carries internal detail. An unknown path answers 404 `route_not_found`; a method a path does not list, 405 `method_not_allowed` with `Allow`; a bug, 500 `internal`. Every response carries `X-Content-Type-Options: nosniff`.',
      ].join('\n'),
    },
    tags: [
      { name: 'auth' },
      { name: 'uploads' },
      {
        name: 'resumable uploads',
        description: 'tus 1.0 (https://tus.io/protocols/resumable-upload): core, creation, creation-with-upload, termination, expiration.',
      },
      { name: 'jobs' },
      { name: 'downloads' },
      { name: 'events' },
      {
        name: 'webhooks',
        description: 'Job events POSTed to endpoints a user registers, signed per Standard Webhooks (https://www.standardwebhooks.com/).',
      },
      { name: 'API keys', description: 'Long-lived keys for scripts, managed with a login token.' },
      { name: 'reference' },
    ],
    paths,
    webhooks: webhookEvents({ json }),
    components: {
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic', description: '`email:password`, for `POST /login` only.' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token `POST /login` answers: may do everything.' },
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'mp3c_<id>_<secret>',
          description:
            'An API key (`POST /keys`), sent as `Authorization: Bearer mp3c_…`: may do what its scopes name (`upload`, `read`, `delete`), each operation naming the one it needs, and never manage keys. Too many requests with one key: 429 `api_key_rate_limited` with Retry-After.',
        },
      },
      schemas: { JobEvent: streamedJobEventSchema },
    },
  });
}
