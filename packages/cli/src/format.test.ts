import { describe, expect, it } from 'vitest';
import { describeState, formatBytes, formatTable, mp3NameFor, percentOf, safeName, zipNameFor } from './format.js';

const base = { position: null, percent: null, speed: null, eta_seconds: null, reason: null, cancel_requested: false };

describe('format', () => {
  it('when sizes and shares are shown, then in binary units and whole percents that reach 100 only at the end', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(20 * 1024 ** 2)]).toEqual(['512 bytes', '1.5 KiB', '20 MiB']);
    expect([percentOf(0, 10), percentOf(9999, 10000), percentOf(10, 10), percentOf(0, 0)]).toEqual([0, 99, 100, 100]);
  });

  it('when a job is described, then by its state and what it carries', () => {
    expect(describeState({ ...base, state: 'queued', position: 2 })).toBe('queued (position 2)');
    expect(describeState({ ...base, state: 'converting', percent: 41.6, speed: 328, eta_seconds: 2.2 })).toBe('converting 41% (328× realtime, 3 s left)');
    expect(describeState({ ...base, state: 'failed', reason: 'the video has no audio track' })).toBe('failed: the video has no audio track');
    expect(describeState({ ...base, state: 'done', percent: 100 })).toBe('done');
  });

  it('when rows are tabled, then columns line up and the last is left ragged', () => {
    expect(
      formatTable(
        ['A', 'STATE'],
        [
          ['x', 'done'],
          ['longer', 'queued'],
        ],
      ),
    ).toBe('A       STATE\nx       done\nlonger  queued');
  });

  it('when a name comes from the server or an upload, then folders and control characters are taken out', () => {
    expect(safeName('../../etc/passwd')).toBe('passwd');
    expect(safeName('a\u0007b\u202e.mp3')).toBe('ab.mp3');
    expect(safeName('..')).toBe('');
    expect(mp3NameFor('talk.final.mp4', 'x')).toBe('talk.final.mp3');
    expect(mp3NameFor('/..', 'abc')).toBe('abc.mp3');
    expect(zipNameFor('../book.final.mkv', 'x')).toBe('book.final.zip');
    expect(zipNameFor(null, 'abc')).toBe('abc.zip');
    expect(mp3NameFor(null, 'abc')).toBe('abc.mp3');
  });
});
