import { describe, expect, it } from 'vitest';
import { type JobDocument, mp3FidsOf, toJob } from './model.js';

const stored = (fields: Partial<JobDocument>): JobDocument => ({
  _id: '65f0c0ffee00112233440001',
  owner: 'owner@example.test',
  filename: 'talk.mp4',
  state: 'done',
  reason: null,
  mp3_fid: null,
  created_at: new Date(0),
  updated_at: new Date(0),
  ...fields,
});

describe('a job read from its document', () => {
  it('when it was done before MP3s were listed, then its one MP3 is its list, of unknown length', () => {
    const job = toJob(stored({ mp3_fid: '65f0c0ffee00112233449999', mp3_size: 4096 }));
    expect(job.mp3s).toEqual([{ fid: '65f0c0ffee00112233449999', title: null, durationSeconds: null, size: 4096 }]);
    expect(mp3FidsOf(job)).toEqual(['65f0c0ffee00112233449999']);
  });

  it('when it is not done, then it has no MP3s and nothing to remove', () => {
    const job = toJob(stored({ state: 'failed' }));
    expect(job.mp3s).toEqual([]);
    expect(mp3FidsOf(job)).toEqual([]);
  });

  it('when it was split into parts, then every part is one to remove, each once', () => {
    const mp3s = ['a', 'b', 'c'].map((c) => ({ fid: c.repeat(24), title: c, duration_seconds: 1, size: 1 }));
    expect(mp3FidsOf(toJob(stored({ mp3s })))).toEqual(['a'.repeat(24), 'b'.repeat(24), 'c'.repeat(24)]);
    expect(mp3FidsOf(toJob(stored({ mp3_fid: 'a'.repeat(24), mp3s: mp3s.slice(0, 1) })))).toEqual(['a'.repeat(24)]);
  });
});
