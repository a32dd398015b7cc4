import { describe, expect, it } from 'vitest';
import { keptSeconds, keptTags, planEncoding, planTrim, readOptions, seeksInSource } from './encoding-plan.js';
import { type MediaProbe, PermanentFailure } from './ports.js';

const source = (over: Partial<MediaProbe> = {}): MediaProbe => ({
  durationSeconds: 60,
  bitRate: 1_000_000,
  sizeBytes: 1_000_000,
  hasAudio: true,
  videoStream: 0,
  audioCodec: 'aac',
  sampleRate: 44100,
  channels: 2,
  coverStream: 3,
  tags: { title: 'T', artist: 'A', major_brand: 'isom', encoder: 'Lavf', compatible_brands: 'x', comment: 'c' },
  chapters: 2,
  ...over,
});
const defaults = { vbrQuality: 2 };

describe('planEncoding', () => {
  it('when nothing is asked, then LAME VBR at the default quality, tags, chapters and cover kept, container junk dropped', () => {
    expect(planEncoding({}, source(), defaults)).toEqual({
      audio: { mode: 'encode', vbrQuality: 2, bitrateKbps: null, sampleRate: null, channels: null },
      trim: null,
      loudness: null,
      tags: { tags: { title: 'T', artist: 'A' }, keepSource: true, chapters: true, cover: { from: 'stream', index: 3 } },
    });
  });

  it('when a bitrate, sample rate and mono are asked, then CBR at them', () => {
    expect(planEncoding({ bitrate: 128, sample_rate: 32000, channels: 1 }, source(), defaults).audio).toEqual({
      mode: 'encode',
      vbrQuality: null,
      bitrateKbps: 128,
      sampleRate: 32000,
      channels: 1,
    });
  });

  it('when the source audio is MP3 and nothing asks for a change, then its frames are copied; tags may still be dropped', () => {
    expect(planEncoding({ tags: 'drop' }, source({ audioCodec: 'mp3' }), defaults)).toEqual({
      audio: { mode: 'copy' },
      trim: null,
      loudness: null,
      tags: { tags: {}, keepSource: false, chapters: false, cover: null },
    });
    expect(planEncoding({ quality: 5 }, source({ audioCodec: 'mp3' }), defaults).audio.mode).toBe('encode');
    expect(planEncoding({ title: 'Mine', cover: 'frame@1' }, source({ audioCodec: 'mp3' }), defaults).audio.mode).toBe('copy');
  });

  it('when a bitrate does not exist at the sample rate, then the job fails saying which do', () => {
    expect(() => planEncoding({ bitrate: 144 }, source(), defaults)).toThrow(PermanentFailure);
    expect(() => planEncoding({ bitrate: 320 }, source({ sampleRate: 22050 }), defaults)).toThrow(/does not exist at 22050 Hz/);
  });
});

describe('planEncoding: trim', () => {
  it('when start and end lie inside the video, then the part kept starts there and lasts as long as asked', () => {
    expect(planTrim({ start: 10, end: 25.5 }, source())).toEqual({ startSeconds: 10, durationSeconds: 15.5 });
    expect(planTrim({ start: 10 }, source())).toEqual({ startSeconds: 10, durationSeconds: 50 });
    expect(planTrim({ end: 5 }, source())).toEqual({ startSeconds: 0, durationSeconds: 5 });
    expect(planTrim({}, source())).toBeNull();
    expect(planTrim({ start: 0 }, source())).toBeNull();
  });

  it('when the end is within half a second past the end (a duration shown rounded up), then the end is the video’s', () => {
    expect(planTrim({ start: 30, end: 60.4 }, source())).toEqual({ startSeconds: 30, durationSeconds: 30 });
  });

  it('when start or end lies past the end of the video, then the job fails saying where each is', () => {
    expect(() => planTrim({ start: 60 }, source())).toThrow('the start (1:00) is past the end of the video (1:00)');
    expect(() => planTrim({ start: 10, end: 61 }, source())).toThrow('the end (1:01) is past the end of the video (1:00)');
    expect(() => planTrim({ start: 3600 }, source({ durationSeconds: 3599.5 }))).toThrow('the start (1:00:00) is past the end of the video (59:59.5)');
    expect(() => planEncoding({ start: 90 }, source(), defaults)).toThrow(PermanentFailure);
  });

  it('when the video does not say how long it is, then it cannot be trimmed', () => {
    expect(() => planTrim({ end: 5 }, source({ durationSeconds: 0 }))).toThrow("the video's length cannot be read, so it cannot be trimmed");
  });

  it('when trimmed, then an MP3 source is encoded (cut to the sample), and the seconds kept are the part’s', () => {
    const plan = planEncoding({ start: 10, end: 20 }, source({ audioCodec: 'mp3' }), defaults);
    expect(plan.audio.mode).toBe('encode');
    expect(keptSeconds(plan, source())).toBe(10);
    expect(keptSeconds(planEncoding({}, source(), defaults), source())).toBe(60);
  });

  it('when the trim starts later or the cover is a frame, then ffmpeg seeks in the source; a trim that only ends early does not', () => {
    expect(seeksInSource({ start: 1 })).toBe(true);
    expect(seeksInSource({ cover: 'frame@1' })).toBe(true);
    expect(seeksInSource({ start: 1, split: 'chapters' })).toBe(true);
    expect(seeksInSource({ start: 0, end: 30 })).toBe(false);
    expect(seeksInSource({ end: 30 })).toBe(false);
    expect(seeksInSource({ loudness: -16 })).toBe(false);
  });
});

describe('planEncoding: loudness', () => {
  it('when a loudness is asked, then it is encoded, the ceiling is -1.5 dBTP unless given, and the levelling waits for the measurement', () => {
    expect(planEncoding({ loudness: -16 }, source({ audioCodec: 'mp3' }), defaults)).toMatchObject({
      audio: { mode: 'encode' },
      loudness: { targetLufs: -16, ceilingDbtp: -1.5, levelling: null },
    });
    expect(planEncoding({ loudness: -14, true_peak: -1 }, source(), defaults).loudness).toEqual({ targetLufs: -14, ceilingDbtp: -1, levelling: null });
  });
});

describe('planEncoding: the user’s tags and cover', () => {
  it('when the user gives a title, artist and album, then they replace the source’s, whose other tags stay', () => {
    expect(planEncoding({ title: 'Mine', album: 'Alb' }, source(), defaults).tags.tags).toEqual({ title: 'Mine', artist: 'A', album: 'Alb' });
  });

  it('when the source’s tags are dropped, then only the user’s are written, without the source’s chapters or picture', () => {
    expect(planEncoding({ tags: 'drop', artist: 'Me' }, source(), defaults).tags).toEqual({
      tags: { artist: 'Me' },
      keepSource: false,
      chapters: false,
      cover: null,
    });
  });

  it('when the cover is a frame, then it comes from the video track at that time, over the source’s picture, tags kept or not', () => {
    expect(planEncoding({ cover: 'frame@12.5' }, source({ videoStream: 0 }), defaults).tags.cover).toEqual({ from: 'frame', videoStream: 0, atSeconds: 12.5 });
    expect(planEncoding({ cover: 'frame@1', tags: 'drop' }, source({ videoStream: 1 }), defaults).tags.cover).toEqual({
      from: 'frame',
      videoStream: 1,
      atSeconds: 1,
    });
  });

  it('when there is no video track, or the frame’s time is past the end, then the job fails saying so', () => {
    expect(() => planEncoding({ cover: 'frame@1' }, source({ videoStream: null }), defaults)).toThrow('the file has no video to take a cover frame from');
    expect(() => planEncoding({ cover: 'frame@75' }, source(), defaults)).toThrow("the cover's frame (1:15) is past the end of the video (1:00)");
  });
});

describe('keptTags', () => {
  it('when tags have other spellings, other names or hostile names, then only the kept names remain, lower-case, the first spelling winning', () => {
    expect(keptTags({ TITLE: 'first', Title: 'second', Artist: 'A', 'x=y -scodec:': '1', '-filter_complex movie=/etc/passwd': '2', title_x: '3' })).toEqual({
      title: 'first',
      artist: 'A',
    });
  });
});

describe('readOptions', () => {
  it('when a message has none, then the defaults; when it has bad ones, then a permanent failure listing each', () => {
    expect(readOptions(undefined)).toEqual({});
    expect(() => readOptions({ quality: 12, channels: 3 })).toThrow(/invalid output options: quality: .*; channels: /);
  });
});
