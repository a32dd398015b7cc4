import { PermanentFailure, TransientFailure } from '@mp3converter/shared/errors';
import type { ConversionMessage, FailureMessage, Mp3Message } from '@mp3converter/shared/contracts';

export { PermanentFailure, TransientFailure };

export type Claim = { status: 'claimed' } | { status: 'held' } | { status: 'done' };

export interface JobLeases {
  claim(videoFid: string, owner: string): Promise<Claim>;
  renew(videoFid: string): Promise<void>;
  release(videoFid: string, reason: string | null): Promise<void>;
  markDone(videoFid: string, mp3Fid: string): Promise<void>;
  markFailed(videoFid: string, reason: string): Promise<void>;
}

export interface VideoInfo {
  filename: string | null;
  length: number;
}

export interface VideoSource {
  /** undefined when there is no such file. */
  info(videoFid: string): Promise<VideoInfo | undefined>;
  /** Streams the whole file to `path` (a seekable copy for ffmpeg). */
  copyTo(videoFid: string, path: string, signal: AbortSignal): Promise<void>;
}

export interface Mp3Details {
  owner: string;
  videoFid: string;
  filename: string;
  durationSeconds: number;
  bitRate: number;
}

export interface Mp3Store {
  exists(mp3Fid: string): Promise<boolean>;
  /** Stores the file at `path` under `mp3Fid`, first removing chunks an interrupted earlier attempt left. */
  save(mp3Fid: string, path: string, details: Mp3Details): Promise<void>;
}

export interface MediaProbe {
  durationSeconds: number;
  bitRate: number;
  sizeBytes: number;
  hasAudio: boolean;
  hasVideo: boolean;
}

export interface Transcoder {
  /** Throws PermanentFailure when the file is not media ffprobe can read, TransientFailure when killed. */
  probe(path: string, signal: AbortSignal): Promise<MediaProbe>;
  /** Extracts the audio to an MP3 file; PermanentFailure for bad input, TransientFailure when killed. */
  toMp3(input: string, output: string, signal: AbortSignal): Promise<void>;
}

export interface Workspace {
  /** A fresh private folder; `dispose` removes it and everything in it. */
  create(jobId: string): Promise<{ dir: string; dispose: () => Promise<void> }>;
}

export interface ResultPublisher {
  publishMp3(message: Mp3Message): Promise<void>;
  publishFailure(message: FailureMessage): Promise<void>;
}

export type { ConversionMessage };
