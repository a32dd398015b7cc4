import { describe, expect, it } from 'vitest';
import type { ApiClient, JobView } from './api.client.js';
import { watchJob } from './watch.js';

const ID = 'a'.repeat(24);
const view = (state: string, extra: Partial<JobView> = {}) => ({ video_fid: ID, state, percent: null, updated_at: state, ...extra }) as JobView;

const stream = (text: string, status = 200) =>
  new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    }),
    { status },
  );

/** A gateway that answers each GET /events with the next of `streams`, and GET /jobs/{id} with the next of `views`. */
function fakeApi(streams: Response[], views: JobView[]) {
  const requests: { path: string; lastEventId: string | null }[] = [];
  const api = {
    send: async (path: string, init: RequestInit = {}) => {
      requests.push({ path, lastEventId: new Headers(init.headers).get('last-event-id') });
      const next = streams.shift();
      if (!next) throw new Error('no more streams');
      return next;
    },
    job: async () => views.shift() ?? view('done'),
  } as unknown as ApiClient;
  return { api, requests };
}

describe('watchJob', () => {
  it('when the stream ends mid-job, then it reconnects with Last-Event-ID after the asked delay and follows the job to its end', async () => {
    const { api, requests } = fakeApi(
      [
        stream(
          'retry: 10\n\nid: 1\nevent: ready\ndata: {}\n\n' +
            `id: 2\nevent: job\ndata: {"video_fid":"${ID}","type":"progress","state":"converting","percent":40}\n\n`,
        ),
        stream(
          `id: 3\nevent: job\ndata: {"video_fid":"${'b'.repeat(24)}","state":"done"}\n\n` +
            `id: 4\nevent: job\ndata: {"video_fid":"${ID}","type":"state","state":"done"}\n\n`,
        ),
      ],
      [view('queued'), view('done', { mp3_fid: 'c'.repeat(24) })],
    );
    const seen: string[] = [];
    const final = await watchJob(api, ID, { signal: new AbortController().signal, onUpdate: (j) => seen.push(`${j.state}:${j.percent}`) });
    expect(seen).toEqual(['queued:null', 'converting:40', 'done:40']);
    expect(final).toMatchObject({ state: 'done', mp3_fid: 'c'.repeat(24) });
    expect(requests).toEqual([
      { path: '/events', lastEventId: null },
      { path: '/events', lastEventId: '2' },
    ]);
  });

  it('when the gateway has no stream to spare (429), then the job is polled until it ends', async () => {
    const { api } = fakeApi([stream('', 429)], [view('converting', { percent: 10, updated_at: 'a' }), view('done', { percent: 100, updated_at: 'b' })]);
    const seen: string[] = [];
    const final = await watchJob(api, ID, { signal: new AbortController().signal, onUpdate: (j) => seen.push(j.state), pollMs: 1 });
    expect(seen).toEqual(['converting', 'done']);
    expect(final.state).toBe('done');
  });

  it('when Ctrl-C comes while waiting to reconnect, then it is an interruption (exit 130)', async () => {
    const abort = new AbortController();
    const { api } = fakeApi([stream('retry: 60000\n\nevent: ready\ndata: {}\n\n')], [view('queued')]);
    const watching = watchJob(api, ID, { signal: abort.signal, onUpdate: () => abort.abort() });
    await expect(watching).rejects.toMatchObject({ exitCode: 130 });
  });
});
