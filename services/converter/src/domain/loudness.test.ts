import { describe, expect, it } from 'vitest';
import type { AudioPlan } from './encoding-plan.js';
import { levelFor, peakHeadroomDb } from './loudness.js';

const vbr = (q: number): AudioPlan => ({ mode: 'encode', vbrQuality: q, bitrateKbps: null, sampleRate: null, channels: null });
const cbr = (kbps: number, channels: number | null = null): AudioPlan => ({ mode: 'encode', vbrQuality: null, bitrateKbps: kbps, sampleRate: null, channels });

describe('levelFor', () => {
  it('when the gain keeps the true peak under the ceiling less the headroom, then one gain and no limiter', () => {
    expect(levelFor({ integratedLufs: -7.9, truePeakDbtp: -0.8 }, -14, -1.5, 1)).toEqual({ gainDb: -6.1, limitDbfs: null });
    expect(levelFor({ integratedLufs: -30, truePeakDbtp: -20 }, -16, -1.5, 1)).toEqual({ gainDb: 14, limitDbfs: null });
  });

  it('when the gain would take the true peak past the ceiling less the headroom, then the same gain and a limiter at that level', () => {
    expect(levelFor({ integratedLufs: -34.7, truePeakDbtp: -20.7 }, -16, -1.5, 1)).toEqual({ gainDb: 18.7, limitDbfs: -2.5 });
    expect(levelFor({ integratedLufs: -20, truePeakDbtp: 0 }, -23, -1, 1)).toEqual({ gainDb: -3, limitDbfs: null });
    expect(levelFor({ integratedLufs: -20, truePeakDbtp: 0 }, -23, -6, 2)).toEqual({ gainDb: -3, limitDbfs: -8 });
  });

  it('when nothing passed the meter’s gate (silence), then no gain; peaks past the ceiling are still limited', () => {
    expect(levelFor({ integratedLufs: -70, truePeakDbtp: Number.NEGATIVE_INFINITY }, -16, -1.5, 1)).toEqual({ gainDb: 0, limitDbfs: null });
    expect(levelFor({ integratedLufs: Number.NEGATIVE_INFINITY, truePeakDbtp: 0 }, -16, -1.5, 1)).toEqual({ gainDb: 0, limitDbfs: -2.5 });
  });
});

describe('peakHeadroomDb', () => {
  it('when the MP3 is of a high bitrate, then 1 dB; of a low one, where LAME adds more to the peaks, 2 dB', () => {
    expect([0, 2, 4].map((q) => peakHeadroomDb(vbr(q), 2))).toEqual([1, 1, 1]);
    expect([5, 9].map((q) => peakHeadroomDb(vbr(q), 2))).toEqual([2, 2]);
    expect(peakHeadroomDb(cbr(128), 2)).toBe(1);
    expect(peakHeadroomDb(cbr(96), 2)).toBe(2);
    expect(peakHeadroomDb(cbr(64, 1), 2)).toBe(1);
    expect(peakHeadroomDb(cbr(64), 1)).toBe(1);
    expect(peakHeadroomDb(cbr(64), null)).toBe(2);
  });
});
