import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import * as tus from 'tus-js-client';
import { type ApiClient, type JobView, credentialRefusal } from '../api.client.js';
import { flag, parseSize, stringOpt } from '../args.js';
import { type Command, printJson } from '../command.js';
import type { Context } from '../context.js';
import { CliError, EXIT, type ExitCode, Interrupted, usageError } from '../errors.js';
import { describeState, formatBytes, formatJob, percentOf } from '../format.js';
import { createProgress } from '../progress.js';
import { OPTION_SPECS, conversionOptionsOf, fileTypeOf, optionFlagsHelp } from '../upload-options.js';
import { UploadUrlStore } from '../upload-url.store.js';
import { watchJob } from '../watch.js';

/** Bytes per PATCH: below the 100 MB body limit many proxies have, large enough to cost few requests. */
const DEFAULT_CHUNK = 50 * 1024 * 1024;
/** After a lost connection or a 5xx, tried again after these delays, ms (then the upload stops, resumable). */
const RETRY_DELAYS = [0, 1_000, 3_000, 5_000, 10_000, 20_000, 30_000];

export const upload: Command = {
  name: 'upload',
  summary: 'upload videos (resumable) and print their job ids',
  help: `Usage: mp3c upload FILE… [options]

Uploads each file with tus (POST /uploads/, PATCH …) and prints its job id (video_fid), one per line, on
stdout. Progress goes to stderr: a bar on a terminal, a line per percent otherwise. A dropped connection is
retried; Ctrl-C stops (exit 130) and running the same command again resumes each file from the bytes the
gateway already has (the same file: path, size and modification time, and the same options).

The MP3's options (the shared conversion options, checked before anything is sent):
${optionFlagsHelp()}

Upload:
      --chunk-size SIZE   bytes per request, e.g. 5m (default 50m)
  -w, --wait              then follow each job until it ends (exit 5 if one failed or was cancelled)`,
  options: {
    ...OPTION_SPECS,
    'chunk-size': { type: 'string' },
    wait: { type: 'boolean', short: 'w' },
  },
  async run(ctx, parsed) {
    const files = parsed.positionals;
    if (files.length === 0) throw usageError('no FILE to upload');
    const { metadata } = conversionOptionsOf(parsed);
    const chunkRaw = stringOpt(parsed, 'chunk-size');
    const chunkSize = chunkRaw === undefined ? DEFAULT_CHUNK : parseSize(chunkRaw);
    if (chunkSize === undefined) throw usageError(`--chunk-size must be a size in bytes, e.g. 5242880 or 5m (got ${chunkRaw})`);

    const api = await ctx.api();
    // Not logged in: exit 3 before anything is read or written.
    const authorization = api.authorization;
    await ctx.store.ensureDir();
    const urls = await UploadUrlStore.open(ctx.store.dir);

    let worst: ExitCode = EXIT.ok;
    for (const file of files) {
      try {
        const sent = await uploadOne(ctx, api, authorization, urls, file, metadata, chunkSize);
        // The id first, so that a wait cut short still leaves it on stdout (JSON waits for the whole record).
        if (!ctx.json) ctx.stdout.write(`${sent.video_fid}\n`);
        let job: JobView | undefined;
        if (flag(parsed, 'wait')) {
          job = await waitFor(ctx, api, sent.video_fid, sent.name);
          if (job.state !== 'done' && worst === EXIT.ok) worst = EXIT.jobFailed;
        }
        if (ctx.json) printJson(ctx, { ...sent, ...(job ? { job } : {}) });
      } catch (err) {
        // Not logged in and Ctrl-C end everything; a file the gateway refused does not stop the next.
        if (!(err instanceof CliError) || err.exitCode === EXIT.auth || err.exitCode === EXIT.interrupted || err.exitCode === EXIT.usage) throw err;
        ctx.stderr.write(`mp3c: ${file}: ${err.message}\n`);
        if (worst === EXIT.ok) worst = err.exitCode;
      }
    }
    return worst;
  },
};

interface Sent {
  file: string;
  name: string;
  video_fid: string;
  size: number;
  /** Where this run began: 0, or the offset the gateway had from an earlier run. */
  resumed_from: number;
}

async function uploadOne(
  ctx: Context,
  api: ApiClient,
  authorization: string,
  urls: UploadUrlStore,
  file: string,
  options: Record<string, string>,
  chunkSize: number,
): Promise<Sent> {
  const path = resolve(file);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw new CliError(EXIT.error, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!info.isFile()) throw new CliError(EXIT.error, `${file} is not a file`);
  if (info.size === 0) throw new CliError(EXIT.error, `${file} is empty`);
  const name = basename(path);
  const type = fileTypeOf(name);
  const endpoint = api.url('/uploads/');
  const progress = createProgress(ctx.stderr, name);
  let resumedFrom = 0;
  let firstAnswer = true;

  if (ctx.signal.aborted) throw new Interrupted();
  const videoFid = await new Promise<string>((resolvePromise, reject) => {
    const upload = new tus.Upload(createReadStream(path), {
      endpoint,
      headers: { authorization },
      metadata: { filename: name, ...(type ? { filetype: type } : {}), ...options },
      chunkSize,
      retryDelays: RETRY_DELAYS,
      urlStorage: urls,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // The same file (path, size, mtime) to the same gateway with the same options resumes; anything else is new.
      fingerprint: async () => ['mp3c', path, info.size, info.mtimeMs, endpoint, JSON.stringify(options)].join('|'),
      onAfterResponse: (req, res) => {
        const status = res.getStatus();
        if (status === 401 || status === 403) urls.keepAll = true;
        // A HEAD asks where an upload stands: first thing when an earlier run left it, again after a retry.
        if (req.getMethod() === 'HEAD' && status >= 200 && status < 300) {
          const offset = Number(res.getHeader('Upload-Offset') ?? 0);
          if (firstAnswer) resumedFrom = offset;
          progress.say(`${name}: resuming at ${offset} bytes (${percentOf(offset, info.size)}%, ${formatBytes(info.size - offset)} to go)`);
        }
        firstAnswer = false;
      },
      onShouldRetry: (err, attempt) => {
        // tus-js-client's own rule: anything but a 4xx, except a conflict or a lock, which settle on their own,
        // and 429 (a burst of creations past the user's free slots: some of it may fit a moment later).
        const status = err.originalResponse?.getStatus() ?? 0;
        const retry = status < 400 || status >= 500 || status === 409 || status === 423 || status === 429;
        const delay = RETRY_DELAYS[attempt];
        if (retry && delay !== undefined) {
          const why = status ? `the gateway answered ${status}` : `the connection failed (${err.causingError?.message ?? err.message})`;
          progress.say(`${name}: ${why}; trying again in ${delay / 1000} s (${attempt + 1} of ${RETRY_DELAYS.length})`);
        }
        return retry;
      },
      onProgress: (bytesSent, bytesTotal) => progress.update(bytesSent, bytesTotal),
      onSuccess: () => {
        ctx.signal.removeEventListener('abort', interrupt);
        progress.update(info.size, info.size);
        progress.done();
        resolvePromise(new URL(upload.url ?? '', endpoint).pathname.split('/').pop() ?? '');
      },
      onError: (err) => {
        ctx.signal.removeEventListener('abort', interrupt);
        progress.done();
        reject(tusFailure(err));
      },
    });
    const interrupt = () => {
      // Kept resumable: the request is cut, the URL stays in the store (abort(false) does not terminate).
      void upload
        .abort(false)
        .then(() => urls.settled())
        .finally(() => {
          progress.done();
          reject(new Interrupted(`interrupted: run the same command again to resume ${name}`));
        });
    };
    ctx.signal.addEventListener('abort', interrupt, { once: true });
    void upload
      .findPreviousUploads()
      .then((previous) => {
        const latest = previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime))[0];
        if (latest) upload.resumeFromPreviousUpload(latest);
        if (!ctx.signal.aborted) upload.start();
      })
      .catch((err: unknown) => reject(new CliError(EXIT.error, `cannot read the upload store: ${(err as Error).message}`)));
  });
  // The success removed the URL from the store; exit only once that is written.
  await urls.settled();
  return { file, name, video_fid: videoFid, size: info.size, resumed_from: resumedFrom };
}

/** A tus-js-client failure as the gateway's refusal (its JSON error) or a lost connection. */
function tusFailure(err: Error | tus.DetailedError): CliError {
  const res = 'originalResponse' in err ? err.originalResponse : null;
  if (!res) {
    const cause = 'causingError' in err ? err.causingError : null;
    return new CliError(EXIT.error, `the upload stopped (${cause?.message ?? err.message}); run the same command again to resume`);
  }
  const status = res.getStatus();
  let error = { code: `http_${status}`, message: res.getBody()?.trim().slice(0, 200) || `HTTP ${status}` };
  try {
    const body = JSON.parse(res.getBody()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) error = { code: body.error.code, message: body.error.message ?? body.error.code };
  } catch {
    // not JSON: the status and text say enough
  }
  const credential = credentialRefusal(status, error, ', then the same upload again to resume');
  if (credential) return credential;
  if (status === 400 && error.code === 'invalid_options') return new CliError(EXIT.usage, `bad conversion options: ${error.message}`);
  return new CliError(EXIT.error, `the gateway refused the upload: ${status} ${error.code}: ${error.message}`);
}

async function waitFor(ctx: Context, api: ApiClient, id: string, name: string): Promise<JobView> {
  const progress = createProgress(ctx.stderr, `${name} converting`, { bytes: false });
  let lastState = '';
  let job: JobView;
  try {
    job = await watchJob(api, id, {
      signal: ctx.signal,
      onUpdate: (j) => {
        if (j.state !== lastState && j.state !== 'converting') progress.say(`${name}: ${describeState(j)}`);
        lastState = j.state;
        if (j.state === 'converting') progress.update(j.percent ?? 0, 100);
      },
    });
  } catch (err) {
    if (err instanceof Interrupted) throw new Interrupted(`interrupted; ${name} is uploaded, its job is ${id} (mp3c status ${id} --watch follows it)`);
    throw err;
  } finally {
    progress.done();
  }
  if (!ctx.json) ctx.stderr.write(`${formatJob(job)}\n`);
  return job;
}
