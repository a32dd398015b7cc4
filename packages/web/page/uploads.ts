import * as tus from 'tus-js-client';
import { errorOf } from './api.js';
import { bytes, el } from './format.js';

export interface UploadDeps {
  list: HTMLUListElement;
  authorization: () => string;
  /** The upload is complete: its id is the job's `video_fid`. */
  onDone: (videoFid: string) => void;
  onUnauthorized: () => void;
}

/** 8 MiB: few round trips, and little sent twice when a connection drops. */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** Why tus gave up, in the gateway's own words where it sent some. */
async function reasonOf(err: Error): Promise<{ status: number | undefined; message: string }> {
  const response = (err as tus.DetailedError).originalResponse;
  if (!response) return { status: undefined, message: 'the connection was lost; resume to go on' };
  const status = response.getStatus();
  const body = response.getBody();
  const parsed = await errorOf(new Response(body || null, { status: status >= 200 && status < 600 ? status : 500 }));
  return { status, message: parsed.message };
}

/**
 * One row per file: tus to `/uploads/`, resumable. tus-js-client keeps each upload's URL in localStorage
 * under a fingerprint of the file (name, type, size, modification time), so the same file chosen again,
 * even after the tab was closed, goes on from the offset the server holds.
 */
export function startUpload(file: File, options: Record<string, string>, deps: UploadDeps): void {
  const bar = el('progress', { max: 100, value: 0 });
  bar.setAttribute('aria-label', `upload of ${file.name}`);
  const state = el('span', { className: 'state', textContent: 'starting…' });
  const pause = el('button', { type: 'button', className: 'secondary', textContent: 'Pause' });
  const remove = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel upload' });
  const row = el('li', {}, el('span', { className: 'name', textContent: file.name }), bar, state, el('div', { className: 'actions' }, pause, remove));
  deps.list.prepend(row);

  let running = false;
  const upload = new tus.Upload(file, {
    endpoint: '/uploads/',
    chunkSize: CHUNK_BYTES,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    metadata: { filename: file.name, filetype: file.type || 'application/octet-stream', ...options },
    removeFingerprintOnSuccess: true,
    // The token is read for every request, so one renewed by logging in again is the one sent.
    onBeforeRequest: (req) => req.setHeader('Authorization', deps.authorization()),
    onShouldRetry: (err) => {
      const status = (err as tus.DetailedError).originalResponse?.getStatus() ?? 0;
      return status === 0 || status === 409 || status === 423 || status >= 500;
    },
    onProgress: (sent, total) => {
      const percent = total > 0 ? Math.floor((sent / total) * 100) : 0;
      bar.value = percent;
      state.textContent = `uploading ${percent}% (${bytes(sent)} of ${bytes(total)})`;
    },
    onSuccess: () => {
      running = false;
      bar.value = 100;
      state.textContent = 'uploaded';
      pause.remove();
      remove.remove();
      const fid = upload.url?.split('/').pop();
      if (fid) deps.onDone(fid);
      setTimeout(() => row.remove(), 1500);
    },
    onError: async (err) => {
      running = false;
      const { status, message } = await reasonOf(err);
      if (status === 401) deps.onUnauthorized();
      state.textContent = `upload stopped: ${message}`;
      state.dataset.state = 'failed';
      // Refused outright (not media, too large, over quota): nothing to resume.
      if (status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 409 && status !== 423) pause.remove();
      else pause.textContent = 'Resume';
    },
  });

  const run = async () => {
    running = true;
    pause.textContent = 'Pause';
    delete state.dataset.state;
    const previous = await upload.findPreviousUploads();
    if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  };
  pause.addEventListener('click', () => {
    if (running) {
      running = false;
      void upload.abort();
      pause.textContent = 'Resume';
      state.textContent = `paused at ${bar.value}%`;
    } else void run();
  });
  remove.addEventListener('click', async () => {
    running = false;
    // Terminates it on the server too (tus termination): nothing is kept.
    await upload.abort(true).catch(() => undefined);
    row.remove();
  });
  void run();
}
