import type { AudioPlan, EncodingPlan, Levelling } from './encoding-plan.js';

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
/** Constant bitrates per channel from which LAME keeps its peaks closer, kbit/s. */
const HIGH_CBR_PER_CHANNEL_KBPS = 64;

/**
 * Room between the true peak the gain gives and the ceiling, below which no limiter is needed: LAME adds
 * up to 0.3 dB to the peaks of audio it need not limit (speech, music and noise measured here).
 */
export const UNLIMITED_HEADROOM_DB = 1;

/**
 * The most the limiter may take off the peaks. Past it, limiting is compression by another name, and LAME
 * adds more to the peaks the harder they were limited (up to 3 dB at 6 dB of limiting, measured here): the
 * gain is lowered instead, and the MP3 ends quieter than asked (`shortfallDb`), never louder than the ceiling.
 */
export const MAX_LIMITING_DB = 4;

/**
 * How far below the ceiling the limiter holds the samples, for an encoding: room for the peaks between
 * samples, which a sample-peak limiter does not see, and for what the MP3 encoder adds to limited peaks
 * (its low-pass and its quantisation noise). Measured here on speech-, music- and noise-like audio limited
 * by up to 4 dB: up to 1.5 dB over the limit at VBR qualities 0–4 and constant bitrates of 64 kbit/s per
 * channel and up, up to 1.9 dB below.
 */
export function limiterHeadroomDb(audio: AudioPlan, sourceChannels: number | null): number {
  if (audio.mode === 'copy') return 2;
  const channels = audio.channels ?? sourceChannels ?? 2;
  const high = audio.bitrateKbps === null ? (audio.vbrQuality ?? 0) <= HIGH_VBR_QUALITY : audio.bitrateKbps / channels >= HIGH_CBR_PER_CHANNEL_KBPS;
  return high ? 2 : 2.5;
}

/**
 * The one linear gain that takes the measured audio to `targetLufs`, and a limiter only where that gain would
 * take its true peak within UNLIMITED_HEADROOM_DB of `ceilingDbtp`; the limiter holds the samples
 * `limiterHeadroomDb` below the ceiling and takes at most MAX_LIMITING_DB off them (else the gain gives way).
 * Silence (nothing above the gate) gets no gain. Nothing else changes the dynamics: no compressor, no
 * automatic level.
 */
export function levelFor(reading: LoudnessReading, targetLufs: number, ceilingDbtp: number, limiterHeadroom: number): Levelling {
  const wanted = reading.integratedLufs > ABSOLUTE_GATE_LUFS ? targetLufs - reading.integratedLufs : 0;
  const peakAfter = reading.truePeakDbtp + wanted;
  if (!(peakAfter > ceilingDbtp - UNLIMITED_HEADROOM_DB)) return { gainDb: round2(wanted), limitDbfs: null, shortfallDb: 0 };
  const limitDbfs = ceilingDbtp - limiterHeadroom;
  const shortfall = Math.max(0, peakAfter - limitDbfs - MAX_LIMITING_DB);
  return { gainDb: round2(wanted - shortfall), limitDbfs: round2(limitDbfs), shortfallDb: round2(shortfall) };
}

/** A plan that asks for even loudness, with the levelling its measured audio needs (see `levelFor`). */
export function levelled(plan: EncodingPlan, reading: LoudnessReading, sourceChannels: number | null): EncodingPlan {
  if (!plan.loudness) return plan;
  const { targetLufs, ceilingDbtp } = plan.loudness;
  return { ...plan, loudness: { ...plan.loudness, levelling: levelFor(reading, targetLufs, ceilingDbtp, limiterHeadroomDb(plan.audio, sourceChannels)) } };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
