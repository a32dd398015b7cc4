import type { JobEvent } from '@mp3converter/shared/jobs';
import { describe, expect, it } from 'vitest';
import { fanOut } from './fan-out.js';
import type { DeliveryInbox } from './ports.js';

const FID = 'a'.repeat(24);
const MP3 = 'b'.repeat(24);

/** The store's two calls, in memory: endpoints by owner with their events (and an optional job). */
function inbox(endpoints: { id: string; owner: string; events: string[]; videoFid?: string }[]) {
  const deliveries = new Map<string, { endpointId: string; payload: string }>();
  const store: DeliveryInbox = {
    async endpointsFor(owner, event, videoFid) {
      return endpoints.filter((e) => e.owner === owner && (e.videoFid ? e.videoFid === videoFid : e.events.includes(event))).map((e) => e.id);
    },
    async addDelivery(d) {
      if (deliveries.has(d.id)) return false;
      deliveries.set(d.id, { endpointId: d.endpointId, payload: d.payload });
      return true;
    },
  };
  return { store, deliveries };
}

const event = (state: JobEvent['state'], extra: Partial<JobEvent> = {}): JobEvent => ({
  type: 'state',
  video_fid: FID,
  owner: 'ann@example.test',
  state,
  at: '2025-01-01T00:00:00.000Z',
  mp3_fid: state === 'done' ? MP3 : null,
  reason: state === 'failed' ? 'not a video' : null,
  ...extra,
});

describe('fanning a job event out', () => {
  it("when a job is done, then each of its owner's endpoints that asked for job.done gets one delivery with the links", async () => {
    const { store, deliveries } = inbox([
      { id: 'ep_1', owner: 'ann@example.test', events: ['job.done'] },
      { id: 'ep_2', owner: 'ann@example.test', events: ['job.failed'] },
      { id: 'ep_3', owner: 'bob@example.test', events: ['job.done'] },
      { id: 'ep_4', owner: 'ann@example.test', events: [], videoFid: FID },
    ]);
    expect(await fanOut(event('done'), store, 'https://mp3converter.com/')).toEqual({ event: 'job.done', added: 2 });
    expect([...deliveries.values()].map((d) => d.endpointId).sort()).toEqual(['ep_1', 'ep_4']);
    const payload = JSON.parse([...deliveries.values()][0]!.payload);
    expect(payload).toEqual({
      type: 'job.done',
      timestamp: '2025-01-01T00:00:00.000Z',
      data: {
        video_fid: FID,
        state: 'done',
        mp3_fid: MP3,
        reason: null,
        status_url: `https://mp3converter.com/jobs/${FID}`,
        download_url: `https://mp3converter.com/download?fid=${MP3}`,
      },
    });
  });

  it('when the same event comes twice (redelivered, or from both publishers), then no second delivery is made and the ids are the same', async () => {
    const { store, deliveries } = inbox([{ id: 'ep_1', owner: 'ann@example.test', events: ['job.failed'] }]);
    await fanOut(event('failed'), store, 'https://x.test');
    const ids = [...deliveries.keys()];
    expect(await fanOut(event('failed', { at: '2025-01-01T00:00:01.000Z' }), store, 'https://x.test')).toEqual({ event: 'job.failed', added: 0 });
    expect([...deliveries.keys()]).toEqual(ids);
    expect(ids[0]).toMatch(/^msg_[0-9a-f]{32}$/);
  });

  it('when the event is not the end of a job (queued, converting, progress), then nobody hears of it', async () => {
    const { store, deliveries } = inbox([{ id: 'ep_1', owner: 'ann@example.test', events: ['job.done', 'job.failed', 'job.cancelled'] }]);
    for (const e of [event('queued'), event('converting'), event('converting', { type: 'progress', percent: 50 }), event('done', { type: 'progress' })]) {
      expect(await fanOut(e, store, 'https://x.test')).toMatchObject({ added: 0 });
    }
    expect(deliveries.size).toBe(0);
  });

  it('when a job is cancelled or failed, then the payload has no MP3 nor download link, and the reason when there is one', async () => {
    const { store, deliveries } = inbox([{ id: 'ep_1', owner: 'ann@example.test', events: ['job.failed', 'job.cancelled'] }]);
    await fanOut(event('failed', { mp3_fid: MP3 }), store, 'https://x.test');
    const failed = JSON.parse([...deliveries.values()][0]!.payload);
    expect(failed.data).toMatchObject({ state: 'failed', mp3_fid: null, download_url: null, reason: 'not a video' });
  });
});
