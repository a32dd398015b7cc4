import { describe, expect, it } from 'vitest';
import { keptTags, planEncoding, readOptions } from './encoding-plan.js';
import { type MediaProbe, PermanentFailure } from './ports.js';

const source = (over: Partial<MediaProbe> = {}): MediaProbe => ({
  durationSeconds: 60,
  bitRate: 1_000_000,
  sizeBytes: 1_000_000,
  hasAudio: true,
  hasVideo: true,
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
      tags: { keep: true, tags: { title: 'T', artist: 'A' }, coverStream: 3 },
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
    expect(planEncoding({ tags: 'drop' }, source({ audioCodec: 'mp3' }), defaults)).toEqual({ audio: { mode: 'copy' }, tags: { keep: false } });
    expect(planEncoding({ quality: 5 }, source({ audioCodec: 'mp3' }), defaults).audio.mode).toBe('encode');
  });

  it('when a bitrate does not exist at the sample rate, then the job fails saying which do', () => {
    expect(() => planEncoding({ bitrate: 144 }, source(), defaults)).toThrow(PermanentFailure);
    expect(() => planEncoding({ bitrate: 320 }, source({ sampleRate: 22050 }), defaults)).toThrow(/does not exist at 22050 Hz/);
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
