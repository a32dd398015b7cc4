import { join } from 'node:path';
import type { ConversionMessage } from '@mp3converter/shared/contracts';
import type { Logger } from '@mp3converter/shared/logger';
import { type MediaLimits, checkMp3, checkSource } from './media-limits.js';
import { mp3FilenameFor, mp3IdFor } from './mp3-id.js';
import { type JobLeases, type Mp3Store, PermanentFailure, type ResultPublisher, type Transcoder, type VideoSource, type Workspace } from './ports.js';

export interface ConverterDeps {
  leases: JobLeases;
  videos: VideoSource;
  mp3s: Mp3Store;
  transcoder: Transcoder;
  workspace: Workspace;
  publisher: ResultPublisher;
  logger: Logger;
  /** How often a running job renews its lease, ms. */
  leaseRenewMs: number;
  limits: MediaLimits;
}

export type ConversionResult =
  | { status: 'converted'; mp3Fid: string; ms: { copy: number; ffmpeg: number; store: number } }
  /** The MP3 was there from an earlier attempt that died before finishing; only the message was sent. */
  | { status: 'resumed'; mp3Fid: string }
  | { status: 'already-done' }
  /** Another worker holds the job's lease. */
  | { status: 'held' };

/** An MP3 shorter than this share of the source's audio (less a half second) means the source was cut off. */
const MIN_DURATION_SHARE = 0.95;

/**
 * One video → one MP3, exactly once in effect: a lease keeps two workers off the same job, the MP3's id is
 * derived from the video's so a retry finds earlier work, and the `mp3` message goes out (confirmed) before
 * the job is marked done and the delivery acked.
 */
export class ConverterService {
  constructor(private readonly deps: ConverterDeps) {}

  async convert(message: ConversionMessage, signal: AbortSignal): Promise<ConversionResult> {
    const { leases, mp3s, publisher, leaseRenewMs } = this.deps;
    const videoFid = message.video_fid.toLowerCase();
    const claim = await leases.claim(videoFid, message.username);
    if (claim.status !== 'claimed') return { status: claim.status === 'done' ? 'already-done' : 'held' };

    const renew = setInterval(() => void leases.renew(videoFid).catch(() => undefined), leaseRenewMs);
    try {
      const mp3Fid = mp3IdFor(videoFid);
      let result: ConversionResult = { status: 'resumed', mp3Fid };
      if (!(await mp3s.exists(mp3Fid))) result = await this.transcode(videoFid, mp3Fid, message.username, signal);
      await publisher.publishMp3({ ...message, video_fid: message.video_fid, mp3_fid: mp3Fid });
      await leases.markDone(videoFid, mp3Fid);
      return result;
    } finally {
      clearInterval(renew);
    }
  }

  private async transcode(videoFid: string, mp3Fid: string, owner: string, signal: AbortSignal): Promise<ConversionResult> {
    const { videos, mp3s, transcoder, workspace, limits } = this.deps;
    const info = await videos.info(videoFid);
    if (!info) throw new PermanentFailure('the uploaded video could not be found');
    const space = await workspace.create(videoFid);
    try {
      const input = join(space.dir, 'input');
      const output = join(space.dir, 'output.mp3');
      const t0 = performance.now();
      await videos.copyTo(videoFid, input, signal);
      const t1 = performance.now();
      const source = await transcoder.probe(input, signal);
      if (!source.hasAudio) throw new PermanentFailure('the video has no audio track');
      checkSource(source, limits);
      await transcoder.toMp3(input, output, signal);
      const mp3 = await transcoder.probe(output, signal);
      checkMp3(mp3, limits);
      if (source.durationSeconds > 1 && mp3.durationSeconds < source.durationSeconds * MIN_DURATION_SHARE - 0.5) {
        throw new PermanentFailure('the file is truncated or damaged: its audio ends early');
      }
      const t2 = performance.now();
      await mp3s.save(mp3Fid, output, {
        owner,
        videoFid,
        filename: mp3FilenameFor(info.filename, videoFid),
        durationSeconds: mp3.durationSeconds,
        bitRate: mp3.bitRate,
      });
      const t3 = performance.now();
      return { status: 'converted', mp3Fid, ms: { copy: Math.round(t1 - t0), ffmpeg: Math.round(t2 - t1), store: Math.round(t3 - t2) } };
    } finally {
      await space.dispose();
    }
  }
}
