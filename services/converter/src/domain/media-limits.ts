import { formatBytes, formatDuration } from '@mp3converter/shared/units';
import { type MediaProbe, PermanentFailure } from './ports.js';

export { formatBytes, formatDuration };

/** LAME's highest bitrate, 320 kbit/s, in bytes per second: no MP3 frame carries more. */
const MP3_MAX_BYTES_PER_SECOND = 320_000 / 8;
/** Room for the VBR header and rounding on top of the bitrate bound. */
const OUTPUT_SLACK_BYTES = 1 << 20;
/** An MP3 runs a little past its source (encoder delay and padding, frame rounding). */
const DURATION_TOLERANCE_SECONDS = 0.5;

/** What one job may cost. */
export interface MediaLimits {
  maxDurationSeconds: number;
  maxOutputBytes: number;
}

/** The limits; without an explicit output cap, the largest MP3 a source of the longest duration can give. */
export function mediaLimits(maxDurationSeconds: number, maxOutputBytes?: number): MediaLimits {
  return { maxDurationSeconds, maxOutputBytes: maxOutputBytes ?? Math.ceil(maxDurationSeconds * MP3_MAX_BYTES_PER_SECOND) + OUTPUT_SLACK_BYTES };
}

/**
 * How much audio the encoder may write: a second past the limit, so that a source whose header understated
 * its length is cut there and still caught by `checkMp3`.
 */
export const outputSecondsCap = (limits: MediaLimits): number => limits.maxDurationSeconds + 1;

const tooLong = (limits: MediaLimits, what = 'the video') =>
  new PermanentFailure(`${what} is longer than the limit of ${formatDuration(limits.maxDurationSeconds)}`);

/**
 * Before converting: a source that says it is longer than the limit is refused at once; of a trimmed one,
 * the part kept (`keptSeconds`) counts, as the cost follows it.
 */
export function checkSource(source: MediaProbe, limits: MediaLimits, keptSeconds?: number): void {
  if (keptSeconds !== undefined) {
    if (keptSeconds > limits.maxDurationSeconds) throw tooLong(limits, 'the part kept');
  } else if (source.durationSeconds > limits.maxDurationSeconds) throw tooLong(limits);
}

/**
 * After converting: the encoder stops at the output caps (`outputSecondsCap`, `maxOutputBytes`) whatever
 * the source claimed, so an MP3 that reached either is refused rather than stored cut short.
 */
export function checkMp3(mp3: Pick<MediaProbe, 'durationSeconds' | 'sizeBytes'>, limits: MediaLimits): void {
  if (mp3.sizeBytes >= limits.maxOutputBytes) throw new PermanentFailure(`the MP3 would be larger than the limit of ${formatBytes(limits.maxOutputBytes)}`);
  if (mp3.durationSeconds > limits.maxDurationSeconds + DURATION_TOLERANCE_SECONDS) throw tooLong(limits);
}
