import { describe, expect, it } from 'vitest';
import type { AudioPlan } from './encoding-plan.js';
import { MAX_LIMITING_DB, levelFor, limiterHeadroomDb } from './loudness.js';

const vbr = (q: number): AudioPlan => ({ mode: 'encode', vbrQuality: q, bitrateKbps: null, sampleRate: null, channels: null });
const cbr = (kbps: number, channels: number | null = null): AudioPlan => ({ mode: 'encode', vbrQuality: null, bitrateKbps: kbps, sampleRate: null, channels });

describe('levelFor', () => {
  it('when the gain keeps the true peak a decibel under the ceiling, then one gain and no limiter', () => {
    expect(levelFor({ integratedLufs: -7.9, truePeakDbtp: -0.8 }, -14, -1.5, 2)).toEqual({ gainDb: -6.1, limitDbfs: null, shortfallDb: 0 });
    expect(levelFor({ integratedLufs: -30, truePeakDbtp: -20 }, -16, -1.5, 2)).toEqual({ gainDb: 14, limitDbfs: null, shortfallDb: 0 });
    expect(levelFor({ integratedLufs: -20, truePeakDbtp: 0 }, -23, -1, 2)).toEqual({ gainDb: -3, limitDbfs: null, shortfallDb: 0 });
  });

  it('when the gain would take the true peak closer to the ceiling, then the same gain and a limiter below the ceiling by the headroom', () => {
    expect(levelFor({ integratedLufs: -34.7, truePeakDbtp: -20.7 }, -16, -1.5, 2)).toEqual({ gainDb: 18.7, limitDbfs: -3.5, shortfallDb: 0 });
    expect(levelFor({ integratedLufs: -20, truePeakDbtp: 0 }, -23, -4, 2.5)).toEqual({ gainDb: -3, limitDbfs: -6.5, shortfallDb: 0 });
  });

  it(`when the limiter would take more than ${MAX_LIMITING_DB} dB off the peaks, then the gain gives way by the rest, and says by how much`, () => {
    // +26 dB takes the peak to +4.6 dBTP: 7.6 dB over a limit of -3, of which 4 are limited and 3.6 not gained.
    expect(levelFor({ integratedLufs: -35, truePeakDbtp: -21.4 }, -9, -1, 2)).toEqual({ gainDb: 22.4, limitDbfs: -3, shortfallDb: 3.6 });
  });

  it('when nothing passed the meter’s gate (silence), then no gain; peaks near the ceiling are still limited', () => {
    expect(levelFor({ integratedLufs: -70, truePeakDbtp: Number.NEGATIVE_INFINITY }, -16, -1.5, 2)).toEqual({ gainDb: 0, limitDbfs: null, shortfallDb: 0 });
    expect(levelFor({ integratedLufs: Number.NEGATIVE_INFINITY, truePeakDbtp: -1 }, -16, -1.5, 2)).toEqual({ gainDb: 0, limitDbfs: -3.5, shortfallDb: 0 });
  });
});

describe('limiterHeadroomDb', () => {
  it('when the MP3 is of a high bitrate, then 2 dB; of a low one, where LAME adds more to limited peaks, 2.5 dB', () => {
    expect([0, 2, 4].map((q) => limiterHeadroomDb(vbr(q), 2))).toEqual([2, 2, 2]);
    expect([5, 9].map((q) => limiterHeadroomDb(vbr(q), 2))).toEqual([2.5, 2.5]);
    expect(limiterHeadroomDb(cbr(128), 2)).toBe(2);
    expect(limiterHeadroomDb(cbr(96), 2)).toBe(2.5);
    expect(limiterHeadroomDb(cbr(64, 1), 2)).toBe(2);
    expect(limiterHeadroomDb(cbr(64), 1)).toBe(2);
    expect(limiterHeadroomDb(cbr(64), null)).toBe(2.5);
  });
});
