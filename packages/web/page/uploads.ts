import * as tus from 'tus-js-client';
import { errorFromBody } from './api.js';
import { bytes, el } from './format.js';

/** A running upload, as the page can stop it at logout. */
export interface RunningUpload {
  /** Stops sending (the server keeps what it has) and removes its row. */
  stop(): void;
}

export interface UploadDeps {
  list: HTMLUListElement;
  authorization: () => string;
  /** The upload is complete: its id is the job's `video_fid`. */
  onDone: (videoFid: string) => void;
  onUnauthorized: () => void;
}

/** tus-js-client's notes of unfinished uploads (their URLs, by fingerprint), removed at logout. */
export function forgetResumableUploads(): void {
  for (const key of Object.keys(localStorage)) if (key.startsWith('tus::')) localStorage.removeItem(key);
}

/** 8 MiB: few round trips, and little sent twice when a connection drops. */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** Why tus gave up, in the gateway's own words where it sent some. */
function reasonOf(err: Error): { status: number | undefined; message: string } {
  const response = (err as tus.DetailedError).originalResponse;
  if (!response) return { status: undefined, message: 'the connection was lost; resume to go on' };
  const status = response.getStatus();
  return { status, message: errorFromBody(status, response.getBody() ?? '').message };
}

/**
 * One row per file: tus to `/uploads/`, resumable. tus-js-client keeps each upload's URL in localStorage
 * under a fingerprint of the file (name, type, size, modification time), so the same file chosen again,
 * even after the tab was closed, goes on from the offset the server holds.
 */
export function startUpload(file: File, options: Record<string, string>, deps: UploadDeps): RunningUpload {
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
    // The options are part of what is resumed: the same file dropped with other options is another upload.
    fingerprint: async (f: File) => ['mp3converter', f.name, f.type, f.size, f.lastModified, JSON.stringify(Object.entries(options).sort())].join('/'),
    // The token is read for every request, so one renewed by logging in again is the one sent.
    onBeforeRequest: (req) => req.setHeader('Authorization', deps.authorization()),
    onShouldRetry: (err) => {
      const status = (err as tus.DetailedError).originalResponse?.getStatus() ?? 0;
      // 429: a burst of uploads past the user's free slots; some may fit a moment later.
      return status === 0 || status === 409 || status === 423 || status === 429 || status >= 500;
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
    onError: (err) => {
      running = false;
      const { status, message } = reasonOf(err);
      if (status === 401) deps.onUnauthorized();
      state.textContent = `upload stopped: ${message}`;
      state.dataset.state = 'failed';
      // Refused outright (not media, too large, over quota): nothing to resume.
      if (status !== undefined && status >= 400 && status < 500 && ![401, 409, 423, 429].includes(status)) pause.remove();
      else pause.textContent = 'Resume';
    },
  });

  const run = async () => {
    running = true;
    pause.textContent = 'Pause';
    delete state.dataset.state;
    try {
      // The newest of the uploads this browser began of this file with these options.
      const previous = (await upload.findPreviousUploads()).sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime));
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
    } catch {
      // storage unreadable: start afresh
    }
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
  return {
    stop: () => {
      running = false;
      void upload.abort().catch(() => undefined);
      row.remove();
    },
  };
}
