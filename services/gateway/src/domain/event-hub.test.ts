import type { JobEvent } from '@mp3converter/shared/jobs';
import { createLogger } from '@mp3converter/shared/logger';
import { describe, expect, it } from 'vitest';
import { EventHub, PositionWatch } from './event-hub.js';
import { FakeStore } from './store.fake.js';

const event = (owner: string): JobEvent => ({ type: 'state', video_fid: '65f0c0ffee00112233445561', owner, state: 'done', at: new Date().toISOString() });

describe('EventHub', () => {
  it("when an event comes, then only its owner's streams get it", () => {
    const hub = new EventHub(5);
    const a: JobEvent[] = [];
    const b: JobEvent[] = [];
    hub.subscribe('a', { send: (e) => a.push(e), close: () => {} });
    hub.subscribe('b', { send: (e) => b.push(e), close: () => {} });
    hub.dispatch(event('a'));
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(0);
  });

  it('when an owner opens more streams than allowed, then the extra one is refused until one closes', () => {
    const hub = new EventHub(2);
    const leave = hub.subscribe('a', { send: () => {}, close: () => {} });
    hub.subscribe('a', { send: () => {}, close: () => {} });
    expect(hub.subscribe('a', { send: () => {}, close: () => {} })).toBeUndefined();
    leave!();
    expect(hub.subscribe('a', { send: () => {}, close: () => {} })).toBeTypeOf('function');
  });
});

describe('PositionWatch', () => {
  it('when a job ahead leaves the queue, then the watching owner hears the new position, once', async () => {
    const store = new FakeStore();
    const hub = new EventHub(5);
    const heard: JobEvent[] = [];
    hub.subscribe('b', { send: (e) => heard.push(e), close: () => {} });
    const first = await store.jobs.create({ videoFid: '65f0c0ffee00112233445561', owner: 'a', filename: null, size: 1, contentType: null });
    await new Promise((r) => setTimeout(r, 2));
    await store.jobs.create({ videoFid: '65f0c0ffee00112233445562', owner: 'b', filename: null, size: 1, contentType: null });
    const watch = new PositionWatch(hub, store.jobs, createLogger({ service: 'test', level: 'silent' }));
    await watch.tick();
    await store.convert(first.videoFid);
    await watch.tick();
    await watch.tick();
    expect(heard.map((e) => e.position)).toEqual([2, 1]);
  });
});
