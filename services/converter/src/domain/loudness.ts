import type { AudioPlan, Levelling } from './encoding-plan.js';

/** What the EBU R128 meter read of the audio as it will be encoded, before any gain. */
export interface LoudnessReading {
  /** Integrated loudness, LUFS; at or below ABSOLUTE_GATE_LUFS when nothing passed the gate (silence). */
  integratedLufs: number;
  /** True peak (4× oversampled), dBTP; -Infinity for digital silence. */
  truePeakDbtp: number;
}

/** EBU R128's absolute gate: a reading at or below it measured nothing (silence); such audio gets no gain. */
export const ABSOLUTE_GATE_LUFS = -70;

/** The VBR qualities (LAME `-q:a`) of about 165 kbit/s stereo and up. */
const HIGH_VBR_QUALITY = 4;
/** Constant bitrates per channel from which LAME keeps its peaks close, kbit/s. */
const HIGH_CBR_PER_CHANNEL_KBPS = 64;

/**
 * How far below the ceiling the limiter holds the samples: room for the peaks between samples, which a
 * sample-peak limiter does not see, and for what the MP3 encoder adds to the peaks (its low-pass and its
 * quantisation ring, more at low bitrates). Measured on speech-like and music-like material: up to 0.7 dB
 * over the limit at 128 kbit/s and up, up to 1.2 dB below.
 */
export function peakHeadroomDb(audio: AudioPlan, sourceChannels: number | null): number {
  if (audio.mode === 'copy') return 1;
  const channels = audio.channels ?? sourceChannels ?? 2;
  const high = audio.bitrateKbps === null ? (audio.vbrQuality ?? 0) <= HIGH_VBR_QUALITY : audio.bitrateKbps / channels >= HIGH_CBR_PER_CHANNEL_KBPS;
  return high ? 1 : 2;
}

/**
 * The one linear gain that takes the measured audio to `targetLufs`, and a limiter only where that gain would
 * take its true peak past `ceilingDbtp` less the headroom. Silence (nothing above the gate) gets no gain.
 * Nothing else changes the dynamics: no compressor, no automatic level.
 */
export function levelFor(reading: LoudnessReading, targetLufs: number, ceilingDbtp: number, headroomDb: number): Levelling {
  const gainDb = reading.integratedLufs > ABSOLUTE_GATE_LUFS ? round2(targetLufs - reading.integratedLufs) : 0;
  const peakAfter = reading.truePeakDbtp + gainDb;
  const limitDbfs = peakAfter > ceilingDbtp - headroomDb ? round2(ceilingDbtp - headroomDb) : null;
  return { gainDb, limitDbfs };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
