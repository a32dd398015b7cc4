import { join } from 'node:path';
import type { JobMp3 } from '@mp3converter/shared/jobs';
import { type PartPlan, type SourceChapter, partTags, planParts } from './chapters.js';
import type { EncodingPlan } from './encoding-plan.js';
import { type MediaLimits, checkMp3 } from './media-limits.js';
import { mp3PartIdFor } from './mp3-id.js';
import { type MediaProbe, type Mp3Store, PermanentFailure, type Transcoder } from './ports.js';

/** The MP3 audio parts are cut from: its first audio stream, and the attached picture that is the cover, if any. */
export interface CutSource {
  path: string;
  coverStream: number | null;
}

/** One part to cut: from `startSeconds` to `endSeconds` (null: the end of the audio), with its tags, into `output`. */
export interface CutPart {
  startSeconds: number;
  endSeconds: number | null;
  tags: Record<string, string>;
  output: string;
}

export interface CutRun {
  /** Seconds of audio cut so far. */
  onProgress?: (cutSeconds: number, speed: number | null) => void;
  /** Hears each batch of parts once their files are complete; the files are removed once it returns. */
  onCut: (parts: readonly CutPart[]) => Promise<void>;
  /** Time of the conversion's limit used already, ms. */
  spentMs?: number;
}

/** Cuts MP3 audio into parts without re-encoding it: whole frames, each in one part. */
export interface PartCutter {
  /** The chapters the file lists; PermanentFailure for a list too large to read. */
  chapters(path: string, signal: AbortSignal): Promise<SourceChapter[]>;
  /** Cuts `parts` (in order, none overlapping) out of `source`; failures as for Transcoder.toMp3. */
  cut(source: CutSource, parts: readonly CutPart[], signal: AbortSignal, run: CutRun): Promise<void>;
}

export interface SplitDeps {
  transcoder: Transcoder;
  cutter: PartCutter;
  mp3s: Mp3Store;
  limits: MediaLimits;
}

/** One job's split: whose, from which local file, in which folder. */
export interface SplitJob {
  videoFid: string;
  owner: string;
  /** The whole local copy of the source. */
  input: string;
  /** The job's own folder, for the files in between. */
  dir: string;
  source: MediaProbe;
  plan: EncodingPlan;
  expiresAt: Date;
  /** An earlier attempt may have left parts, or chunks of them, under the same ids. */
  leftovers: boolean;
}

export interface SplitRun {
  /** The encoder's progress, when the audio is encoded before it is cut. */
  onEncodeProgress: (encodedSeconds: number, speed: number | null) => void;
  onCutProgress: (cutSeconds: number, speed: number | null) => void;
  /** Runs a transfer under the transfer time limit (see JobRunner). */
  bounded: (what: string, signal: AbortSignal, transfer: (signal: AbortSignal) => Promise<void>) => Promise<void>;
  /** When the conversion started, for the time limit (performance.now()). */
  startedAt: number;
}

/** A part's MP3 shorter than this share of its span (less a half second) means the audio was cut off. */
const MIN_DURATION_SHARE = 0.95;

/**
 * One MP3 per chapter (`split=chapters`). Where the source's audio is MP3 and nothing asks for it to change,
 * the parts are cut from it without re-encoding, on frame boundaries; otherwise the audio is encoded once,
 * to one MP3 of the part kept (with its gain and its cover), and that is cut the same way. Each part is
 * stored as soon as it is cut, under an id derived from the video's and its number, and carries its own tags
 * (see partTags) and the cover.
 */
export class ChapterSplit {
  constructor(private readonly deps: SplitDeps) {}

  /** Whether the audio is encoded (to one MP3) before it is cut: unless it is MP3 copied as it is, with its own cover or none. */
  static encodesFirst(plan: EncodingPlan): boolean {
    return plan.audio.mode !== 'copy' || plan.tags.cover?.from === 'frame';
  }

  /** The parts the source splits into (see planParts): none when it lists no chapter that is left. */
  async plan(input: string, plan: EncodingPlan, source: MediaProbe, signal: AbortSignal): Promise<PartPlan[]> {
    if (source.chapters === 0) return [];
    const chapters = await this.deps.cutter.chapters(input, signal);
    return planParts(chapters, { startSeconds: plan.trim?.startSeconds ?? 0, durationSeconds: plan.trim?.durationSeconds ?? source.durationSeconds });
  }

  /** The parts of a split an earlier attempt stored, when it stored them all; else undefined. */
  async storedEarlier(videoFid: string): Promise<JobMp3[] | undefined> {
    const stored = await this.deps.mp3s.partsOf(videoFid);
    const of = stored[0]?.part.of;
    if (of === undefined || stored.length !== of) return undefined;
    const byNumber = new Map(stored.map((s) => [s.part.number, s]));
    const parts = Array.from({ length: of }, (_, i) => byNumber.get(i + 1));
    if (parts.some((p) => p === undefined || p.part.of !== of)) return undefined;
    return parts.map((p) => ({ fid: p!.mp3Fid, title: p!.part.title, durationSeconds: p!.durationSeconds, size: p!.sizeBytes }));
  }

  /** Cuts and stores every part; on any failure, what was stored of them is removed. */
  async run(job: SplitJob, parts: readonly PartPlan[], signal: AbortSignal, run: SplitRun): Promise<JobMp3[]> {
    const { cutter } = this.deps;
    const audio = await this.audioToCut(job, signal, run);
    const byOutput = new Map<string, PartPlan>();
    const cuts = parts.map((part) => {
      const cut: CutPart = {
        startSeconds: part.startSeconds,
        endSeconds: part.last ? null : part.endSeconds,
        tags: partTags(job.plan.tags.tags, part, parts.length),
        output: join(job.dir, `part-${part.number}.mp3`),
      };
      byOutput.set(cut.output, part);
      return cut;
    });
    const stored: JobMp3[] = [];
    try {
      await cutter.cut(audio, cuts, signal, {
        onProgress: run.onCutProgress,
        spentMs: performance.now() - run.startedAt,
        onCut: async (batch) => {
          for (const cut of batch) stored.push(await this.store(job, byOutput.get(cut.output)!, parts.length, cut.output, signal, run));
        },
      });
    } catch (err) {
      await Promise.all(stored.map((m) => this.deps.mp3s.delete(m.fid).catch(() => undefined)));
      throw err;
    }
    return stored;
  }

  /**
   * The MP3 to cut: the source itself when its audio is copied and its cover is its own picture; else one
   * MP3 encoded from it as the plan asks, without tags (each part gets its own), with the cover.
   */
  private async audioToCut(job: SplitJob, signal: AbortSignal, run: SplitRun): Promise<CutSource> {
    const { plan } = job;
    const cover = plan.tags.cover;
    if (!ChapterSplit.encodesFirst(plan)) return { path: job.input, coverStream: cover?.from === 'stream' ? cover.index : null };
    const whole = join(job.dir, 'whole.mp3');
    const wholePlan: EncodingPlan = { ...plan, tags: { ...plan.tags, tags: {}, keepSource: false, chapters: false } };
    await this.deps.transcoder.toMp3({ path: job.input }, whole, wholePlan, signal, {
      onProgress: run.onEncodeProgress,
      spentMs: performance.now() - run.startedAt,
    });
    const probed = await this.deps.transcoder.probe({ path: whole }, signal);
    return { path: whole, coverStream: cover ? probed.coverStream : null };
  }

  private async store(job: SplitJob, part: PartPlan, of: number, path: string, signal: AbortSignal, run: SplitRun): Promise<JobMp3> {
    const { transcoder, mp3s, limits } = this.deps;
    const mp3 = await transcoder.measureMp3(path, signal);
    checkMp3(mp3, limits);
    const span = part.endSeconds - part.startSeconds;
    if (span > 1 && mp3.durationSeconds < span * MIN_DURATION_SHARE - 0.5) {
      throw new PermanentFailure('the file is truncated or damaged: its audio ends early');
    }
    const fid = mp3PartIdFor(job.videoFid, part.number);
    const upload = await mp3s.follow(fid, path, { leftovers: job.leftovers });
    const details = {
      owner: job.owner,
      videoFid: job.videoFid,
      filename: part.filename,
      durationSeconds: mp3.durationSeconds,
      bitRate: mp3.bitRate,
      expiresAt: job.expiresAt,
      part: { number: part.number, of, title: part.title },
    };
    try {
      await run.bounded('storing the MP3', signal, (bounded) => upload.finish(details, mp3.header, bounded));
    } catch (err) {
      await upload.abort().catch(() => undefined);
      throw err;
    }
    return { fid, title: part.title, durationSeconds: mp3.durationSeconds, size: mp3.sizeBytes };
  }
}
