import { describe, expect, it } from 'vitest';
import { parseStatsLine } from './ffmpeg-stats.js';

describe('parseStatsLine', () => {
  it('when ffmpeg reports time and speed, then both in seconds and × realtime', () => {
    expect(parseStatsLine('size=     235kB time=00:01:30.01 bitrate=  64.1kbits/s speed= 287x    ')).toEqual({ seconds: 90.01, speed: 287 });
  });

  it('when the speed is not known yet, then null', () => {
    expect(parseStatsLine('size=       0kB time=00:00:00.00 bitrate=N/A speed=N/A')).toEqual({ seconds: 0, speed: null });
  });

  it('when the time is negative (encoder delay), then 0', () => {
    expect(parseStatsLine('size=0kB time=-00:00:00.02 bitrate=N/A speed=N/A')).toEqual({ seconds: 0, speed: null });
  });

  it.each(['[mp3 @ 0x55] Estimating duration from bitrate', 'moov atom not found', ''])('when the line is %j, then nothing', (line) => {
    expect(parseStatsLine(line)).toBeUndefined();
  });

  it('when the run is long, then hours count', () => {
    expect(parseStatsLine('size=1kB time=02:03:04.50 bitrate=1 speed=1.5x')?.seconds).toBe(2 * 3600 + 3 * 60 + 4.5);
  });
});
