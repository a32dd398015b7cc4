import { join } from 'node:path';
import { type Outcome, gaveUpReason, outcomeOf } from '@mp3converter/shared/retry';
import type { ConversionMessage } from '@mp3converter/shared/contracts';
import type { JobEvent, JobMp3, JobState } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import { ChapterSplit, type PartCutter } from './chapter-split.js';
import type { PartPlan } from './chapters.js';
import { type EncodingDefaults, type EncodingPlan, keptSeconds, planEncoding, readOptions, seeksInSource } from './encoding-plan.js';
import { levelled } from './loudness.js';
import { type MediaLimits, checkMp3, checkSource } from './media-limits.js';
import { mp3FilenameFor, mp3IdFor } from './mp3-id.js';
import {
  type ConversionMetrics,
  type JobEvents,
  type JobLeases,
  type MediaInput,
  type MediaProbe,
  type Mp3Measure,
  type Mp3Store,
  type Mp3Upload,
  PermanentFailure,
  type Progress,
  type ResultPublisher,
  type Transcoder,
  TransientFailure,
  type VideoSource,
  type Workspace,
  failureReasonOf,
} from './ports.js';
import { VideoCopy } from './video-copy.js';
import { type ReadFigures, VideoReads } from './video-reads.js';

export interface RunnerDeps {
  leases: JobLeases;
  videos: VideoSource;
  mp3s: Mp3Store;
  transcoder: Transcoder;
  /** Cuts MP3 audio into parts, for `split=chapters`. */
  cutter: PartCutter;
  workspace: Workspace;
  publisher: ResultPublisher;
  events: JobEvents;
  metrics: ConversionMetrics;
  logger: Logger;
  limits: MediaLimits;
  /** Claims of one job before it is given up on; redeliveries by the broker count too. */
  maxAttempts: number;
  /** How often a running job renews its lease (and looks for a cancel), ms. */
  leaseRenewMs: number;
  /** Progress events go out at most this often, ms. */
  progressEventMs: number;
  /** Progress is written to the job at most this often, ms. */
  progressSnapshotMs: number;
  /** Shortest retry delay to wait when another worker holds the job, ms. */
  deferMs: number;
  /** Reading the video or storing the MP3 longer than this is a transient failure, ms. */
  transferTimeoutMs: number;
  /** Quality or bitrate when the owner asked for neither. */
  encoding: EncodingDefaults;
  /** A finished job and its MP3 are removed this long after it ends, ms. */
  retentionMs: number;
  /** Keep the video once its job ended (by default it goes: the MP3 is what was asked for). */
  keepVideos: boolean;
  /** A job that seeks reads the video served by ranges (see VideoSource.serve), not a whole copy. */
  rangeReads: boolean;
}

/** How a delivery was made: replayed from the dead letters by an operator, or not. */
export interface Delivery {
  replayed: boolean;
}

/** The owner called the job off while it ran. */
export class JobCancelled extends Error {
  constructor() {
    super('cancelled by its owner');
    this.name = 'JobCancelled';
  }
}

/** The worker is shutting down: the job goes back to the queue, its attempt not counted. */
export class WorkerStopping extends Error {
  constructor() {
    super('shutting down');
    this.name = 'WorkerStopping';
  }
}

/** A job this worker runs now, as liveness and cancel requests see it. */
interface Running {
  abort: AbortController;
  /** Last sign of life (a phase begun, bytes copied, a progress line), epoch ms. */
  activeAt: number;
}

/** An MP3 shorter than this share of the source's audio (less a half second) means the source was cut off. */
const MIN_DURATION_SHARE = 0.95;
/**
 * Of a job that measures its loudness first, the share of its time the meter takes: ffmpeg's meter reads
 * about three times as fast as LAME encodes (~255× against ~88× real time).
 */
const MEASURE_SHARE = 0.25;
/** Of a split that encodes before it cuts, the share of the progress bar the cutting and storing stand for. */
const CUT_SHARE = 0.1;
/** Progress stays below 100 until the job is done: 100 means the MP3 is there. */
const MAX_RUNNING_PERCENT = 99.9;

/** The dead letter's reason for a message naming someone other than the job's owner. */
const OWNER_MISMATCH = "owner_mismatch: the message names another user than the job's owner";

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * One conversion job from claim to its end, the converter's state machine:
 *
 *   running here already ─────────────────────────────────────────▶ defer (look again later)
 *   claim ─┬─ the store's job has another owner than the message ─▶ dead letter (owner_mismatch), job untouched
 *          ├─ held by another worker ─────────────────────────────▶ defer (look again later)
 *          ├─ already done / failed / cancelled ──────────────────▶ ack
 *          ├─ claimed more than maxAttempts times ────────────────▶ failed, user told, dead letter
 *          └─ claimed ─▶ convert ─┬─ MP3 stored, announced ───────▶ done
 *                                 ├─ cancelled by its owner ──────▶ cancelled (nothing kept, no email)
 *                                 ├─ the user's file is bad ──────▶ failed, user told, ack
 *                                 ├─ something gave way ──────────▶ released, retried later
 *                                 │    … on the last attempt ─────▶ failed, user told, dead letter
 *                                 └─ the worker stops ────────────▶ released, requeued, attempt refunded
 *
 * The owner is the job store's: a job the store knows is converted only for a message naming its owner, so
 * `message.username` is the store's owner from the claim on. A video the store does not know (the original's
 * gateway recorded no job) becomes a job of the user its message names.
 *
 * Exactly once in effect: a lease keeps two workers off one job, the MP3's id is derived from the video's so
 * a retry finds earlier work, and the `mp3` message goes out (confirmed) before the job is marked done and
 * the delivery acked.
 */
export class JobRunner {
  private readonly running = new Map<string, Running>();
  private readonly split: ChapterSplit;

  constructor(private readonly deps: RunnerDeps) {
    this.split = new ChapterSplit({ transcoder: deps.transcoder, cutter: deps.cutter, mp3s: deps.mp3s, limits: deps.limits });
  }

  /** Stops the job if this worker runs it; the cancel is also on the job, for whichever worker has it. */
  cancel(videoFid: string): boolean {
    const job = this.running.get(videoFid.toLowerCase());
    job?.abort.abort(new JobCancelled());
    return job !== undefined;
  }

  /** Stops every job; their messages go back to the queue. */
  abortAll(): void {
    for (const job of this.running.values()) job.abort.abort(new WorkerStopping());
  }

  /** Jobs with no sign of life for longer than `limitMs`: a worker stuck on one is not healthy. */
  stalled(limitMs: number, now = Date.now()): string[] {
    return [...this.running].filter(([, job]) => now - job.activeAt > limitMs).map(([videoFid]) => videoFid);
  }

  get busy(): number {
    return this.running.size;
  }

  async run(message: ConversionMessage, delivery: Delivery): Promise<Outcome> {
    const { leases, maxAttempts, logger } = this.deps;
    const videoFid = message.video_fid.toLowerCase();
    const owner = message.username;
    // A second delivery of a job this process runs (a duplicate, or a redelivery after the channel dropped
    // while the first one went on) would find the lease its own: the slot is taken before the claim.
    if (this.running.has(videoFid)) {
      logger.info({ videoFid, username: owner }, 'job already running in this worker; deferred');
      return { kind: 'defer', reason: 'already running in this worker', afterMs: this.deps.deferMs };
    }
    const job: Running = { abort: new AbortController(), activeAt: Date.now() };
    this.running.set(videoFid, job);
    try {
      const claim = await leases.claim(videoFid, owner, { maxAttempts, revive: delivery.replayed });
      const log = logger.child({ videoFid, username: owner, ...(claim.status === 'claimed' ? { attempt: claim.attempt } : {}) });
      switch (claim.status) {
        case 'not-owner':
          // Nobody is told: the named user owns nothing here, and the owner did not send it.
          this.deps.metrics.failed('owner_mismatch');
          log.warn('the message names another user than the owner of the job; dead-lettered');
          return { kind: 'dead', reason: OWNER_MISMATCH };
        case 'held':
          log.info('job held by another worker; deferred');
          return { kind: 'defer', reason: 'held by another worker', afterMs: this.deps.deferMs };
        case 'finished':
          log.info({ state: claim.state }, 'job already finished');
          return { kind: 'done' };
        case 'exhausted': {
          this.deps.metrics.failed('gave_up');
          const reason = gaveUpReason(claim.attempts - 1, claim.lastError ?? 'the conversion was interrupted every time');
          await this.fail(message, reason, log);
          return { kind: 'dead', reason };
        }
        case 'claimed':
          // A first claim of a job never replayed follows no earlier attempt: no MP3 or chunks of one to look for.
          return await this.convertClaimed(message, job, claim.attempt, log, claim.attempt === 1 && !delivery.replayed);
      }
    } finally {
      this.running.delete(videoFid);
    }
  }

  private async convertClaimed(message: ConversionMessage, job: Running, attempt: number, log: Logger, first: boolean): Promise<Outcome> {
    const { leases, leaseRenewMs, maxAttempts } = this.deps;
    const videoFid = message.video_fid.toLowerCase();
    job.activeAt = Date.now();
    this.announce(message, 'converting', { percent: 0 });
    const renewal = setInterval(() => {
      leases.renew(videoFid).then(
        ({ cancelRequested }) => {
          if (cancelRequested) job.abort.abort(new JobCancelled());
        },
        (err: unknown) => log.warn({ err }, 'could not renew the job lease'),
      );
    }, leaseRenewMs);
    const started = performance.now();
    try {
      log.info('conversion started');
      const { encoded, ...result } = await this.convert(message, job, log, first);
      const totalMs = performance.now() - started;
      this.deps.metrics.converted(totalMs / 1000, encoded);
      log.info({ ...result, totalMs: Math.round(totalMs) }, 'conversion done');
      return { kind: 'done' };
    } catch (err) {
      const reason = job.abort.signal.aborted ? job.abort.signal.reason : err;
      if (reason instanceof JobCancelled) {
        await this.cancelled(message, log);
        return { kind: 'done' };
      }
      if (reason instanceof WorkerStopping) {
        await leases.release(videoFid, { lastError: null, refund: true }).catch(() => undefined);
        log.warn('conversion stopped for shutdown; message returned to the queue');
        return { kind: 'requeue' };
      }
      this.deps.metrics.failed(failureReasonOf(err));
      if (err instanceof PermanentFailure) {
        log.warn({ err, reason: err.reason }, 'conversion failed: the file cannot be converted');
        await this.fail(message, err.reason, log);
        // Nothing will ever be made of it. (A job given up on keeps its video until it expires, for a replay.)
        if (!this.deps.keepVideos) this.dropVideo(message.video_fid.toLowerCase(), log);
        return { kind: 'done' };
      }
      const outcome = outcomeOf(err, attempt, maxAttempts);
      if (outcome.kind === 'retry') {
        log.warn({ err, reason: outcome.reason }, 'conversion failed; will retry');
        await leases.release(videoFid, { lastError: outcome.reason, refund: false }).catch(() => undefined);
        this.announce(message, 'queued', { reason: `retrying after: ${outcome.reason}` });
      } else if (outcome.kind === 'dead') {
        this.deps.metrics.failed('gave_up');
        log.warn({ err, reason: outcome.reason }, 'conversion failed; giving up');
        await this.fail(message, outcome.reason, log);
      }
      return outcome;
    } finally {
      clearInterval(renewal);
    }
  }

  private async convert(message: ConversionMessage, job: Running, log: Logger, first: boolean) {
    const { leases, mp3s, publisher, retentionMs, keepVideos } = this.deps;
    const videoFid = message.video_fid.toLowerCase();
    const mp3Fid = mp3IdFor(videoFid);
    const signal = job.abort.signal;
    let timings: Record<string, number> | undefined;
    let fed: boolean | undefined;
    let read: ReadFigures | undefined;
    let encoded: { mediaSeconds: number; encodeSeconds: number } | undefined;
    const expiresAt = new Date(Date.now() + retentionMs);
    // An earlier attempt may have stored the MP3s and died before announcing them: then only the message is sent.
    let stored = first ? undefined : await this.storedEarlier(message, mp3Fid);
    const resumed = stored !== undefined;
    if (stored === undefined) ({ timings, fed, read, stored, encoded } = await this.transcode(message, mp3Fid, expiresAt, job, log, first));
    signal.throwIfAborted();
    if (!(await leases.markFinishing(videoFid))) {
      for (const mp3 of stored) await mp3s.delete(mp3.fid);
      throw new JobCancelled();
    }
    // A split into several names them all; the first stands in `mp3_fid` for the original's consumers.
    const [head] = stored as [JobMp3, ...JobMp3[]];
    await publisher.publishMp3({ ...message, mp3_fid: head.fid, ...(stored.length > 1 ? { mp3_fids: stored.map((m) => m.fid) } : {}) });
    await leases.markDone(videoFid, { mp3s: stored, expiresAt });
    this.announce(message, 'done', { percent: 100, mp3_fid: stored.length === 1 ? head.fid : null });
    if (!keepVideos) this.dropVideo(videoFid, log);
    return { status: resumed ? 'resumed' : 'converted', mp3s: stored.length, ...(timings ? { ms: timings, fed, read } : {}), encoded };
  }

  /** The MP3s an earlier attempt stored: all the parts of a split, or the one MP3; undefined when not all are there. */
  private async storedEarlier(message: ConversionMessage, mp3Fid: string): Promise<JobMp3[] | undefined> {
    if (readOptions(message.options).split === 'chapters') {
      const parts = await this.split.storedEarlier(message.video_fid.toLowerCase());
      if (parts) return parts;
    }
    const size = await this.deps.mp3s.sizeOf(mp3Fid);
    return size === undefined ? undefined : [{ fid: mp3Fid, title: null, durationSeconds: null, size }];
  }

  private async transcode(
    message: ConversionMessage,
    mp3Fid: string,
    expiresAt: Date,
    job: Running,
    log: Logger,
    first: boolean,
  ): Promise<{
    timings: Record<string, number>;
    fed: boolean;
    read: ReadFigures;
    stored: JobMp3[];
    encoded: { mediaSeconds: number; encodeSeconds: number };
  }> {
    const { videos, workspace, limits, leases, encoding } = this.deps;
    const videoFid = message.video_fid.toLowerCase();
    const signal = job.abort.signal;
    const options = readOptions(message.options);
    const alive = () => {
      job.activeAt = Date.now();
    };
    const info = await videos.info(videoFid);
    if (!info) throw new PermanentFailure('the uploaded video could not be found');
    const space = await workspace.create(videoFid);
    const input = join(space.dir, 'input');
    const t0 = performance.now();
    // Reading, encoding and storing overlap: the copy runs ahead of the encoder, the MP3 is stored as written.
    const startCopy = () =>
      new VideoCopy(input, signal, (copySignal, onData) =>
        this.bounded('reading the video', copySignal, (bounded) =>
          videos.copyTo(
            videoFid,
            input,
            bounded,
            (piece) => {
              alive();
              onData(piece);
            },
            info,
          ),
        ),
      );
    // A job whose runs seek reads only what they ask for: no copy, unless a served run fails on the file. A
    // split reads the chapters and cuts from the whole copy all the same.
    const served =
      this.deps.rangeReads && seeksInSource(options) && options.split !== 'chapters'
        ? await videos.serve(videoFid, info, { signal, readTimeoutMs: this.deps.transferTimeoutMs, onData: alive }).catch(async (err: unknown) => {
            await space.dispose();
            throw err;
          })
        : undefined;
    const reads = new VideoReads(startCopy, served);
    try {
      const output = join(space.dir, 'output.mp3');
      const probed = await this.probeSource(reads, signal, log);
      const { source } = probed;
      alive();
      if (!source.hasAudio) throw new PermanentFailure('the video has no audio track');
      let plan = planEncoding(options, source, encoding);
      const kept = keptSeconds(plan, source);
      checkSource(source, limits, plan.trim ? kept : undefined);
      // A split reads the chapters and cuts from the whole copy; a source without chapters is converted whole.
      const parts = options.split === 'chapters' ? await this.planSplit(reads.copy(), plan, source, signal, log) : [];
      // A later start or a cover frame needs ffmpeg to seek in the file: then it waits for the whole copy.
      const streaming = probed.streaming && !seeksInSource(options) && parts.length === 0;
      // Written while ffmpeg starts, and done before anything else writes the job. Of the part kept: progress,
      // ETA and the MP3 refer to it.
      const durationRecorded = leases.recordDuration(videoFid, kept).catch((err: unknown) => log.warn({ err }, 'could not record the duration'));
      const t1 = performance.now();
      let measuredAt: number | undefined;
      let encodedMp3: Awaited<ReturnType<JobRunner['encode']>> | undefined;
      let split: JobMp3[] | undefined;
      try {
        const progress = this.progressReporter(message, kept, alive, log, durationRecorded);
        if (plan.loudness) {
          plan = await this.level(reads, plan, source, streaming, signal, progress.phase(0, MEASURE_SHARE), log);
          measuredAt = performance.now();
        }
        const onProgress = plan.loudness ? progress.phase(MEASURE_SHARE, 1 - MEASURE_SHARE) : progress.phase(0, 1);
        if (parts.length > 0) {
          const job = { videoFid, owner: message.username, input: reads.copy().file.path, dir: space.dir, source, plan, expiresAt, leftovers: !first };
          split = await this.split.run(job, parts, signal, {
            ...this.splitProgress(progress.phase, plan.loudness ? MEASURE_SHARE : 0, ChapterSplit.encodesFirst(plan)),
            bounded: (what, bySignal, transfer) => this.bounded(what, bySignal, transfer),
            startedAt: t1,
          });
        } else encodedMp3 = await this.encode(reads, output, plan, { mp3Fid, leftovers: !first, streaming, startedAt: t1 }, signal, onProgress, log);
      } finally {
        await durationRecorded;
      }
      if (split) {
        const t2 = performance.now();
        const timings = { copy: Math.round((reads.copied?.completedAt ?? t2) - t0), probe: Math.round(t1 - t0), split: Math.round(t2 - t1) };
        const mediaSeconds = split.reduce((sum, m) => sum + (m.durationSeconds ?? 0), 0);
        return { timings, fed: false, ...reads.readFigures(info.length), stored: split, encoded: { mediaSeconds, encodeSeconds: (t2 - t1) / 1000 } };
      }
      const { mp3, upload, fed } = encodedMp3!;
      alive();
      const t2 = performance.now();
      try {
        checkMp3(mp3, limits);
        if (kept > 1 && mp3.durationSeconds < kept * MIN_DURATION_SHARE - 0.5) {
          throw new PermanentFailure('the file is truncated or damaged: its audio ends early');
        }
        signal.throwIfAborted();
        const details = {
          owner: message.username,
          videoFid,
          filename: mp3FilenameFor(info.filename, videoFid),
          durationSeconds: mp3.durationSeconds,
          bitRate: mp3.bitRate,
          expiresAt,
        };
        await this.bounded('storing the MP3', signal, (bounded) => upload.finish(details, mp3.header, bounded));
      } catch (err) {
        await upload.abort().catch((abortErr: unknown) => log.warn({ err: abortErr }, 'could not remove a stored MP3 that is not kept'));
        throw err;
      }
      const t3 = performance.now();
      return {
        timings: {
          copy: Math.round((reads.copied?.completedAt ?? t2) - t0),
          probe: Math.round(t1 - t0),
          ...(measuredAt === undefined ? {} : { loudness: Math.round(measuredAt - t1) }),
          ffmpeg: Math.round(t2 - t1),
          store: Math.round(t3 - t2),
        },
        fed,
        ...reads.readFigures(info.length),
        stored: [{ fid: mp3Fid, title: plan.tags.tags.title ?? null, durationSeconds: mp3.durationSeconds, size: mp3.sizeBytes }],
        encoded: { mediaSeconds: mp3.durationSeconds, encodeSeconds: (t2 - t1) / 1000 },
      };
    } finally {
      await reads.stop();
      this.deps.metrics.videoRead(reads.readFigures(info.length).read);
      await space.dispose();
    }
  }

  /** The parts of a split by chapters, read from the whole copy; none for a source without chapters (converted whole). */
  private async planSplit(copy: VideoCopy, plan: EncodingPlan, source: MediaProbe, signal: AbortSignal, log: Logger): Promise<PartPlan[]> {
    if (source.chapters === 0) {
      log.info('split by chapters asked, but the source has none: one MP3');
      return [];
    }
    await copy.whole;
    const parts = await this.split.plan(copy.file.path, plan, source, signal);
    log.info({ chapters: source.chapters, parts: parts.length }, parts.length > 0 ? 'splitting by chapters' : 'no chapter left to split by: one MP3');
    return parts;
  }

  /**
   * The progress of a split, after the loudness meter's share (`offset`): the encoder and then the cutting
   * when the audio is encoded first, the cutting alone when it is copied.
   */
  private splitProgress(phase: (offset: number, share: number) => (seconds: number, speed: number | null) => void, offset: number, encodesFirst: boolean) {
    const rest = 1 - offset;
    const cutShare = encodesFirst ? rest * CUT_SHARE : rest;
    return { onEncodeProgress: phase(offset, rest - cutShare), onCutProgress: phase(1 - cutShare, cutShare) };
  }

  /**
   * The source as ffprobe sees it. ffprobe starts with the copy and reads it through a pipe as it is written,
   * so its start (tens of milliseconds) overlaps the wait for the first bytes; an MP4/MOV gives its answer
   * there (the head when the index comes first, up to the index at the end otherwise). When that answer is not
   * clear (no audio seen, ffprobe refused it) or the file is of another kind, the whole copy is probed: the
   * answer that counts. `streaming`: ffmpeg can be fed too.
   */
  private async probeSource(reads: VideoReads, signal: AbortSignal, log: Logger): Promise<{ source: MediaProbe; streaming: boolean }> {
    const { transcoder } = this.deps;
    if (reads.served) {
      try {
        return { source: await transcoder.probe({ served: reads.served }, signal), streaming: false };
      } catch (err) {
        if (signal.aborted || !(err instanceof PermanentFailure)) throw err;
        log.info({ reason: err.reason }, 'the video could not be read by ranges; probing the whole copy');
        await reads.unserve();
      }
    }
    const copy = reads.copy();
    const early = new AbortController();
    const streamed = transcoder.probe({ path: copy.file.path, growing: copy.file }, AbortSignal.any([signal, early.signal]));
    streamed.catch(() => undefined);
    const layout = await copy.layout;
    if (layout.kind === 'copy-first') early.abort(new Error('not a file ffprobe reads as it streams'));
    else {
      try {
        const source = await streamed;
        if (source.hasAudio) return { source, streaming: layout.kind === 'index-first' && copy.completedAt === undefined };
      } catch (err) {
        if (signal.aborted || !(err instanceof PermanentFailure)) throw err;
      }
      log.info('the video as it streamed did not show its audio; probing the whole copy');
    }
    await streamed.catch(() => undefined);
    await copy.whole;
    return { source: await transcoder.probe({ path: copy.file.path }, signal), streaming: false };
  }

  /**
   * Measures the loudness of the part kept and sets the gain (and the limiter, if the true peak needs one)
   * that takes it to the target: see `levelFor`.
   */
  private async level(
    reads: VideoReads,
    plan: EncodingPlan,
    source: MediaProbe,
    streaming: boolean,
    signal: AbortSignal,
    onProgress: (encodedSeconds: number, speed: number | null) => void,
    log: Logger,
  ): Promise<EncodingPlan> {
    const { loudness } = plan;
    if (!loudness) return plan;
    const started = performance.now();
    const reading = await this.fedThenWhole(reads, streaming, signal, log, (input) =>
      this.deps.transcoder.measureLoudness(input, plan, signal, { onProgress, spentMs: performance.now() - started }),
    );
    const result = levelled(plan, reading, source.channels);
    const levelling = result.loudness?.levelling;
    const fields = { measured: reading, target: { lufs: loudness.targetLufs, ceiling: loudness.ceilingDbtp }, levelling };
    if (levelling && levelling.shortfallDb > 0)
      log.warn(fields, 'loudness target out of reach under the true-peak ceiling without heavy limiting: gain lowered');
    else log.info(fields, levelling?.limitDbfs === null ? 'loudness measured: a gain alone' : 'loudness measured: a gain and a limiter');
    return result;
  }

  /**
   * Encodes to `output` while the MP3 is stored as it is written; returns the measured MP3 and its upload,
   * still to be finished. A failed run's upload is removed before the next.
   */
  private async encode(
    reads: VideoReads,
    output: string,
    plan: EncodingPlan,
    target: { mp3Fid: string; leftovers: boolean; streaming: boolean; startedAt: number },
    signal: AbortSignal,
    onProgress: (encodedSeconds: number, speed: number | null) => void,
    log: Logger,
  ): Promise<{ mp3: Mp3Measure; upload: Mp3Upload; fed: boolean }> {
    const { transcoder, mp3s } = this.deps;
    let leftovers = target.leftovers;
    return this.fedThenWhole(reads, target.streaming, signal, log, async (input, fed) => {
      const upload = await mp3s.follow(target.mp3Fid, output, { leftovers });
      try {
        await transcoder.toMp3(input, output, plan, signal, { onProgress, spentMs: performance.now() - target.startedAt });
        return { mp3: await transcoder.measureMp3(output, signal), upload, fed };
      } catch (err) {
        await upload.abort().catch(() => {
          leftovers = true;
        });
        throw err;
      }
    });
  }

  /**
   * Runs `run` on the served video, on the copy as it grows (`streaming`) or on the whole copy. When a run
   * served by ranges or fed from the growing copy fails on the file, the whole copy gets one more run (within
   * the same time limit): the file is refused only as the original would refuse it.
   */
  private async fedThenWhole<T>(
    reads: VideoReads,
    streaming: boolean,
    signal: AbortSignal,
    log: Logger,
    run: (input: MediaInput, fed: boolean) => Promise<T>,
  ): Promise<T> {
    if (reads.served) {
      try {
        return await run({ served: reads.served }, false);
      } catch (err) {
        if (signal.aborted || !(err instanceof PermanentFailure)) throw err;
        log.info({ reason: err.reason }, 'the video could not be read by ranges; reading the whole copy');
        await reads.unserve();
        await reads.copy().whole;
        streaming = false;
      }
    }
    const copy = reads.copy();
    for (let fed = streaming; ; fed = false) {
      try {
        return await run(fed ? { path: copy.file.path, growing: copy.file } : { path: copy.file.path }, fed);
      } catch (err) {
        if (!fed || signal.aborted || !(err instanceof PermanentFailure)) throw err;
        // A copy that failed is the job's failure (retried), not the file's.
        await copy.whole;
        log.info({ reason: err.reason }, 'the video could not be read as it streamed; reading the whole copy');
      }
    }
  }

  /** Runs a transfer under the job's signal and the transfer time limit; past the limit, a transient failure. */
  private async bounded(what: string, signal: AbortSignal, transfer: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const { transferTimeoutMs } = this.deps;
    const limit = AbortSignal.timeout(transferTimeoutMs);
    try {
      await transfer(AbortSignal.any([signal, limit]));
    } catch (err) {
      if (limit.aborted && !signal.aborted)
        throw new TransientFailure(`${what} took longer than ${Math.round(transferTimeoutMs / 1000)} s and was stopped`, { cause: err, timedOut: true });
      throw err;
    }
  }

  /**
   * Turns ffmpeg's "seconds done, speed" into percent, speed and ETA against the seconds kept: an event at
   * most every progressEventMs, a snapshot on the job at most every progressSnapshotMs. A job of two runs
   * over the audio (the loudness meter, then the encoder) gives each its `phase`: the share of the whole
   * it stands for (`share`), after the shares before it (`offset`); its ETA counts the phases after it, as
   * long as this one's at the speed of this one.
   */
  private progressReporter(message: ConversionMessage, durationSeconds: number, alive: () => void, log: Logger, after: Promise<void>) {
    const { progressEventMs, progressSnapshotMs, leases } = this.deps;
    const videoFid = message.video_fid.toLowerCase();
    let lastEvent = 0;
    let lastSnapshot = Date.now();
    let lastPercent = -1;
    const phase =
      (offset: number, share: number) =>
      (doneSeconds: number, speed: number | null): void => {
        alive();
        const now = Date.now();
        if (now - lastEvent < progressEventMs) return;
        const fraction = durationSeconds > 0 ? Math.min(1, doneSeconds / durationSeconds) : 0;
        const percent = durationSeconds > 0 ? round(Math.min(MAX_RUNNING_PERCENT, (offset + share * fraction) * 100)) : 0;
        if (percent < lastPercent) return;
        lastEvent = now;
        lastPercent = percent;
        const later = ((1 - offset - share) / share) * durationSeconds;
        const progress: Progress = {
          percent,
          speed: speed === null ? null : round(speed, 2),
          etaSeconds: speed && speed > 0 ? round((Math.max(0, durationSeconds - doneSeconds) + later) / speed) : null,
        };
        this.announce(message, 'converting', { percent: progress.percent, speed: progress.speed, eta_seconds: progress.etaSeconds }, 'progress');
        if (now - lastSnapshot >= progressSnapshotMs) {
          lastSnapshot = now;
          after.then(() => leases.recordProgress(videoFid, progress)).catch((err: unknown) => log.warn({ err }, 'could not record progress'));
        }
      };
    return { phase };
  }

  /**
   * Removes the video of a job that ended, without holding the delivery for it (removing chunks can take a
   * while on some stores). Should the worker stop first, the retention sweep removes it when the job expires.
   */
  private dropVideo(videoFid: string, log: Logger): void {
    this.deps.videos.delete(videoFid).catch((err: unknown) => log.warn({ err }, 'could not remove the video of a finished job'));
  }

  /** Cancelled while converting: nothing is kept (the video goes too), nobody is emailed, the delivery is acked. */
  private async cancelled(message: ConversionMessage, log: Logger): Promise<void> {
    const videoFid = message.video_fid.toLowerCase();
    await this.deps.leases.markCancelled(videoFid);
    await this.deps.videos.delete(videoFid).catch((err: unknown) => log.warn({ err }, 'could not remove the video of a cancelled job'));
    this.announce(message, 'cancelled', { reason: 'cancelled by its owner' });
    log.info('conversion cancelled by its owner');
  }

  /** Records the failure for /status and tells the user; either may fail without stopping the rest. */
  private async fail(message: ConversionMessage, reason: string, log: Logger): Promise<void> {
    const expiresAt = new Date(Date.now() + this.deps.retentionMs);
    await this.deps.leases
      .markFailed(message.video_fid.toLowerCase(), reason, expiresAt)
      .catch((err: unknown) => log.error({ err }, 'could not mark the job failed'));
    this.announce(message, 'failed', { reason });
    await this.deps.publisher
      .publishFailure({ video_fid: message.video_fid, mp3_fid: null, username: message.username, status: 'failed', reason })
      .catch((err: unknown) => log.error({ err }, 'could not publish the failure notice'));
  }

  private announce(message: ConversionMessage, state: JobState, fields: Partial<JobEvent> = {}, type: JobEvent['type'] = 'state'): void {
    this.deps.events.publish({
      type,
      video_fid: message.video_fid.toLowerCase(),
      owner: message.username,
      state,
      at: new Date().toISOString(),
      ...fields,
    });
  }
}
