import { describe, expect, it } from 'vitest';
import { checkMp3, checkSource, formatBytes, formatDuration, mediaLimits, outputSecondsCap } from './media-limits.js';
import { type MediaProbe, PermanentFailure } from './ports.js';

const probe = (over: Partial<MediaProbe>): MediaProbe => ({
  durationSeconds: 60,
  bitRate: 128_000,
  sizeBytes: 1_000_000,
  hasAudio: true,
  videoStream: null,
  audioCodec: 'aac',
  sampleRate: 44100,
  channels: 2,
  coverStream: null,
  tags: {},
  chapters: 0,
  ...over,
});
const fourHours = mediaLimits(4 * 3600);

function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(PermanentFailure);
    return (err as PermanentFailure).reason;
  }
}

describe('mediaLimits', () => {
  it('when no output cap is given, then it is what 320 kbit/s gives over the longest duration, plus 1 MiB', () => {
    expect(fourHours).toEqual({ maxDurationSeconds: 14_400, maxOutputBytes: 14_400 * 40_000 + 1_048_576 });
  });

  it('when an output cap is given, then it is kept', () => {
    expect(mediaLimits(600, 5_000_000)).toEqual({ maxDurationSeconds: 600, maxOutputBytes: 5_000_000 });
  });

  it('when ffmpeg is told how much to write, then it is one second past the limit', () => {
    expect(outputSecondsCap(fourHours)).toBe(14_401);
  });
});

describe('checkSource', () => {
  it('when the source is as long as the limit, then it passes', () => {
    expect(reasonOf(() => checkSource(probe({ durationSeconds: 14_400 }), fourHours))).toBeUndefined();
  });

  it('when the source is longer than the limit, then it is refused with the limit in words', () => {
    expect(reasonOf(() => checkSource(probe({ durationSeconds: 14_400.5 }), fourHours))).toBe('the video is longer than the limit of 4 h');
  });

  it('when a trim keeps part of a longer source, then the part kept is what the limit applies to', () => {
    expect(reasonOf(() => checkSource(probe({ durationSeconds: 3 * 14_400 }), fourHours, 600))).toBeUndefined();
    expect(reasonOf(() => checkSource(probe({ durationSeconds: 3 * 14_400 }), fourHours, 14_401))).toBe('the part kept is longer than the limit of 4 h');
  });

  it('when the source does not say how long it is, then it passes (the output caps decide)', () => {
    expect(reasonOf(() => checkSource(probe({ durationSeconds: 0 }), fourHours))).toBeUndefined();
  });
});

describe('checkMp3', () => {
  it('when the MP3 is within both limits, then it passes', () => {
    expect(reasonOf(() => checkMp3(probe({ durationSeconds: 14_400.3, sizeBytes: 500_000_000 }), fourHours))).toBeUndefined();
  });

  it('when the MP3 reached the output cap, then it is refused as too large', () => {
    const limits = mediaLimits(600, 20_000);
    expect(reasonOf(() => checkMp3(probe({ durationSeconds: 1, sizeBytes: 21_709 }), limits))).toBe('the MP3 would be larger than the limit of 19.5 KiB');
  });

  it('when the MP3 ran to the duration cap (the source understated its length), then it is refused as too long', () => {
    const limits = mediaLimits(90);
    expect(reasonOf(() => checkMp3(probe({ durationSeconds: outputSecondsCap(limits) }), limits))).toBe('the video is longer than the limit of 1 min 30 s');
  });
});

describe('formatting', () => {
  it.each([
    [14_400, '4 h'],
    [5_400, '1 h 30 min'],
    [3_661, '1 h 1 min 1 s'],
    [45, '45 s'],
    [0, '0 s'],
  ])('when %i s is shown, then it reads %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it.each([
    [512, '512 bytes'],
    [20_000, '19.5 KiB'],
    [577_048_576, '550.3 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
  ])('when %i bytes are shown, then it reads %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
