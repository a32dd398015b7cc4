import { PermanentFailure, TransientFailure } from '@mp3converter/shared/errors';
import type { ConversionMessage, FailureMessage, Mp3Message } from '@mp3converter/shared/contracts';
import type { Claim, JobEvent, JobLeases, Progress } from '@mp3converter/shared/jobs';
import type { EncodingPlan } from './encoding-plan.js';
import type { LoudnessReading } from './loudness.js';

export { PermanentFailure, TransientFailure };
/** The worker's role of the job store (see @mp3converter/shared/jobs). */
export type { Claim, JobLeases, Progress };

/** Job changes for whoever watches (the owner's event stream); best effort, never fails the job. */
export interface JobEvents {
  publish(event: JobEvent): void;
}

export interface VideoInfo {
  filename: string | null;
  length: number;
}

export interface VideoSource {
  /** undefined when there is no such file. */
  info(videoFid: string): Promise<VideoInfo | undefined>;
  /**
   * Streams the whole file to `path`; `onData` hears of each piece once it is on disk, in order.
   * `known`: what `info` just answered for it, which saves looking the file up again.
   */
  copyTo(videoFid: string, path: string, signal: AbortSignal, onData?: (piece: Uint8Array) => void, known?: VideoInfo): Promise<void>;
  /**
   * Serves the video to ffmpeg by byte ranges, read out of the store as they are asked for, so that a run
   * which seeks (a trim that starts later) reads only what it needs. Each read of the store is bounded by
   * `readTimeoutMs`; `onData` hears of bytes sent. Closed by its `close`, or with `signal`.
   */
  serve(videoFid: string, known: VideoInfo, options: { signal: AbortSignal; readTimeoutMs: number; onData?: () => void }): Promise<ServedVideo>;
  /** Removes the video (a cancelled job keeps nothing); done when there is none. */
  delete(videoFid: string): Promise<void>;
}

export interface Mp3Details {
  owner: string;
  videoFid: string;
  filename: string;
  durationSeconds: number;
  bitRate: number;
  /** When it will be removed; the email says so. */
  expiresAt: Date;
  /** Which part it is of a split by chapters: found again by a retry that follows an attempt which stored them all. */
  part?: StoredPart;
}

/** A part of a split, as its MP3 records it. */
export interface StoredPart {
  /** 1, 2, … of `of`. */
  number: number;
  of: number;
  title: string;
}

export interface Mp3Store {
  /** The stored MP3's size in bytes, or undefined when there is none. */
  sizeOf(mp3Fid: string): Promise<number | undefined>;
  delete(mp3Fid: string): Promise<void>;
  /**
   * Starts storing the file at `path` under `mp3Fid` while the encoder still writes it, as its bytes settle;
   * with `leftovers` (there was an earlier attempt), first removes chunks an interrupted one left. Nobody sees
   * the MP3 before `finish`.
   */
  follow(mp3Fid: string, path: string, options: { leftovers: boolean }): Promise<Mp3Upload>;
  /** The parts of a split by chapters stored for this video, in any order (none for a job of one MP3). */
  partsOf(videoFid: string): Promise<{ mp3Fid: string; sizeBytes: number; durationSeconds: number | null; part: StoredPart }[]>;
}

/** Bytes `start` (inclusive) to `end` (exclusive) of a file. */
export interface ByteSpan {
  start: number;
  end: number;
}

/** An MP3 being stored while it is written. */
export interface Mp3Upload {
  /**
   * The file is complete: stores the rest of it, stores `rewritten` again (the bytes the encoder went back
   * to at its end), then makes the MP3 visible with its details. Stops, with nothing kept, on `signal`.
   */
  finish(details: Mp3Details, rewritten: ByteSpan, signal: AbortSignal): Promise<void>;
  /** Stops and removes whatever was stored. */
  abort(): Promise<void>;
}

export interface MediaProbe {
  durationSeconds: number;
  bitRate: number;
  sizeBytes: number;
  hasAudio: boolean;
  /** The index of the first video track (not an attached picture); null without one. */
  videoStream: number | null;
  /** Of the first audio stream: `aac`, `mp3`, …; null without audio. */
  audioCodec: string | null;
  sampleRate: number | null;
  channels: number | null;
  /** The index of an attached picture (cover art, JPEG or PNG), never of the video track; null without one. */
  coverStream: number | null;
  /** The global tags, as ffprobe names them. */
  tags: Record<string, string>;
  chapters: number;
}

/** What is checked of a finished MP3, and where its header lies (written last, over what was there). */
export type Mp3Measure = Pick<MediaProbe, 'durationSeconds' | 'bitRate' | 'sizeBytes'> & { header: ByteSpan };

/** A local file still being written: how much of it a reader may read. */
export interface FollowedFile {
  readonly path: string;
  /** The bytes on disk once there are more than `offset`, or `offset` itself when the file is complete. */
  available(offset: number): Promise<number>;
}

/** The video as ffmpeg reads it by byte ranges (see VideoSource.serve). */
export interface ServedVideo {
  /** Where ffmpeg reads it: an address of ours on loopback, never made of anything the upload or the user gave. */
  readonly url: string;
  /** Bytes of the video sent so far. */
  readonly bytesServed: number;
  /** The first read of the store that failed (ffmpeg then saw a cut connection), if any did. */
  readonly error: unknown;
  /** Stops serving: every connection and read it has open ends. */
  close(): Promise<void>;
}

/**
 * What the encoder reads: a whole local file, or (`growing`) one still being copied, which it then reads
 * from its first byte on as it grows, through a pipe: for containers that can be read in file order only;
 * or the video served by byte ranges, for runs that seek.
 */
export type MediaInput = { path: string; growing?: FollowedFile } | { served: ServedVideo };

export interface Transcoder {
  /**
   * Throws PermanentFailure when the file is not media ffprobe can read, TransientFailure when killed. A
   * `growing` input is read through a pipe as it is copied: then the container's size and overall bitrate
   * are unknown (0).
   */
  probe(input: MediaInput, signal: AbortSignal): Promise<MediaProbe>;
  /** The length of an MP3 this transcoder wrote, from its VBR header (or ffprobe when it has none). */
  measureMp3(path: string, signal: AbortSignal): Promise<Mp3Measure>;
  /**
   * Extracts the audio to an MP3 file; PermanentFailure for bad input, TransientFailure when killed or past
   * the time limit, less `spentMs` (encoding this job has used already, in a run that failed).
   * `onProgress` hears, about twice a second, how many seconds of audio are encoded and at what speed.
   */
  toMp3(input: MediaInput, output: string, plan: EncodingPlan, signal: AbortSignal, run?: EncodeRun): Promise<void>;
  /**
   * The integrated loudness and true peak of the audio the plan encodes (the part kept, at the rate and
   * channels asked), before any gain; failures as for `toMp3`.
   */
  measureLoudness(input: MediaInput, plan: EncodingPlan, signal: AbortSignal, run?: EncodeRun): Promise<LoudnessReading>;
}

export interface EncodeRun {
  onProgress?: (encodedSeconds: number, speed: number | null) => void;
  spentMs?: number;
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

/**
 * Why a conversion attempt failed, a fixed set: the file cannot be converted (`unconvertible`), an attempt ran
 * past a time limit (`timeout`) or something else gave way (`transient`), retries ran out (`gave_up`), the
 * message could not be read (`invalid_message`), or it named another user than the job's owner (`owner_mismatch`).
 */
export type FailureReason = 'unconvertible' | 'timeout' | 'transient' | 'gave_up' | 'invalid_message' | 'owner_mismatch';

/** Conversions as metrics count them. */
export interface ConversionMetrics {
  /**
   * A job done: `seconds` from claim to done; `mediaSeconds` of audio made in `encodeSeconds` of encoding,
   * when this attempt encoded it (not when an earlier one had stored the MP3 already).
   */
  converted(seconds: number, encoded?: { mediaSeconds: number; encodeSeconds: number }): void;
  /** An attempt read `served` bytes of its video by ranges and `copied` bytes as a whole copy, done or not. */
  videoRead(bytes: { served: number; copied: number }): void;
  failed(reason: FailureReason): void;
}

/** The failure reason of an error met by an attempt. */
export const failureReasonOf = (err: unknown): FailureReason =>
  err instanceof PermanentFailure ? 'unconvertible' : err instanceof TransientFailure && err.timedOut ? 'timeout' : 'transient';
