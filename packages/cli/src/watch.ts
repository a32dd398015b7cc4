import type { ApiClient, JobView } from './api.client.js';
import { errorOf, refusal } from './api.client.js';
import { CliError, EXIT, Interrupted } from './errors.js';
import { isFinal } from '@mp3converter/shared/contracts/job-states';
import { SseParser } from '@mp3converter/shared/sse';

/** What the watcher knows of the job at each change: the view, updated by the events' fields. */
export type JobUpdate = (job: JobView) => void;

export interface WatchOptions {
  signal: AbortSignal;
  onUpdate: JobUpdate;
  /** A stream that shows nothing, not even a keep-alive, for this long is taken for dead and opened again, ms. */
  idleMs?: number;
  /** Consecutive failed connections before giving up. */
  maxFailures?: number;
  /** Between polls of GET /jobs/{id} when the gateway has no stream to spare (429), ms. */
  pollMs?: number;
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Interrupted());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Interrupted());
    };
    // The listener goes with the timer: a long watch polls many times on one signal.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Follows one job until it reaches a final state, and returns its final view. It reads the user's event
 * stream (GET /events with the token in the header): once `ready`, the job's current view (so nothing between
 * the two is missed), then each event of that job. A stream that ends or goes quiet is opened again with
 * `Last-Event-ID`, after the delay the server asked for, and the server replays what changed meanwhile. When
 * the gateway has no stream to spare (429), the job is polled instead.
 */
export async function watchJob(api: ApiClient, id: string, options: WatchOptions): Promise<JobView> {
  const { signal, onUpdate, idleMs = 45_000, maxFailures = 10, pollMs = 2_000 } = options;
  let job: JobView | undefined;
  let lastEventId: string | undefined;
  let retryMs = 3_000;
  let failures = 0;

  const seen = async (next: JobView): Promise<JobView | undefined> => {
    job = next;
    onUpdate(job);
    if (!isFinal(job.state)) return undefined;
    // The event carries the fields that changed; the final view has all of them (mp3_fid, sizes, expiry).
    const final = await api.job(id);
    return isFinal(final.state) ? final : job;
  };

  for (;;) {
    const local = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const resetIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => local.abort(), idleMs);
    };
    try {
      const res = await api.send('/events', {
        headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
        signal: local.signal,
      });
      if (res.status === 429) {
        await res.body?.cancel();
        return await poll(api, id, job, { signal, onUpdate, pollMs });
      }
      if (!res.ok || !res.body) throw refusal(res.status, await errorOf(res), res.headers.get('retry-after'));
      failures = 0;
      const parser = new SseParser();
      const decoder = new TextDecoder();
      resetIdle();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          resetIdle();
          for (const event of parser.feed(decoder.decode(chunk, { stream: true }))) {
            let final: JobView | undefined;
            if (event.event === 'ready') final = await seen(await api.job(id));
            else if (event.event === 'job' && job) {
              const data = JSON.parse(event.data) as Partial<JobView> & { video_fid?: string };
              if (data.video_fid === id) final = await seen({ ...job, ...data } as JobView);
            }
            if (final) return final;
          }
        }
      } finally {
        lastEventId = parser.lastEventId ?? lastEventId;
        retryMs = parser.retryMs ?? retryMs;
        clearTimeout(idle);
        local.abort();
      }
    } catch (err) {
      if (signal.aborted) throw new Interrupted();
      if (err instanceof CliError && err.exitCode !== EXIT.error) throw err;
      if (++failures >= maxFailures)
        throw err instanceof CliError ? err : new CliError(EXIT.error, `the event stream keeps failing: ${(err as Error).message}`);
    }
    // A reconnect before the first `ready` starts afresh; after it, Last-Event-ID replays what was missed.
    if (!job) lastEventId = undefined;
    await pause(retryMs, signal);
  }
}

async function poll(
  api: ApiClient,
  id: string,
  known: JobView | undefined,
  { signal, onUpdate, pollMs }: Required<Pick<WatchOptions, 'signal' | 'onUpdate' | 'pollMs'>>,
): Promise<JobView> {
  let job = known;
  for (;;) {
    const next = await api.job(id);
    if (!job || next.updated_at !== job.updated_at || next.state !== job.state || next.percent !== job.percent) onUpdate(next);
    job = next;
    if (isFinal(job.state)) return job;
    await pause(pollMs, signal);
  }
}
