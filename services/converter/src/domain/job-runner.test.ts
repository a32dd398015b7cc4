import type { ConversionMessage, FailureMessage, Mp3Message } from '@mp3converter/shared/contracts';
import type { JobEvent, JobMp3 } from '@mp3converter/shared/jobs';
import { createLogger } from '@mp3converter/shared/logger';
import { beforeEach, describe, expect, it } from 'vitest';
import type { EncodingPlan } from './encoding-plan.js';
import { JobRunner, type RunnerDeps } from './job-runner.js';
import type { LoudnessReading } from './loudness.js';
import { mediaLimits } from './media-limits.js';
import { mp3IdFor } from './mp3-id.js';
import {
  type ByteSpan,
  type Claim,
  type EncodeRun,
  type FailureReason,
  type JobLeases,
  type MediaInput,
  type MediaProbe,
  type Mp3Measure,
  type Mp3Store,
  PermanentFailure,
  type Progress,
  type ResultPublisher,
  type Transcoder,
  TransientFailure,
  type VideoSource,
} from './ports.js';

const VIDEO = '65f0c0ffee00112233445566';

type InputKind = 'fed' | 'file' | 'served';
const kindOf = (input: MediaInput): InputKind => ('served' in input ? 'served' : input.growing ? 'fed' : 'file');
const growingOf = (input: MediaInput) => ('growing' in input ? input.growing : undefined);
/** A video source's `serve` where no test serves: it must not be called. */
const notServed = async (): Promise<never> => {
  throw new Error('not served here');
};
const message: ConversionMessage = { video_fid: VIDEO, mp3_fid: null, username: 'a@example.test' };

/** The job store's rules for one job, in memory. */
class FakeLeases implements JobLeases {
  /** Whose job it is, as the gateway recorded it. */
  owner = message.username;
  state: 'queued' | 'converting' | 'done' | 'failed' | 'cancelled' = 'queued';
  attempts = 0;
  held = false;
  cancelRequested = false;
  finishing = false;
  lastError: string | null = null;
  reason: string | null = null;
  released: { lastError: string | null; refund: boolean }[] = [];
  progress: Progress[] = [];
  duration: number | null = null;
  log: string[] = [];

  async claim(_videoFid: string, owner: string, { maxAttempts }: { maxAttempts: number; revive: boolean }): Promise<Claim> {
    if (owner !== this.owner) return { status: 'not-owner' };
    if (this.held) return { status: 'held' };
    if (this.state !== 'queued' && this.state !== 'converting') return { status: 'finished', state: this.state };
    this.state = 'converting';
    this.attempts++;
    if (this.attempts > maxAttempts) return { status: 'exhausted', attempts: this.attempts, lastError: this.lastError };
    return { status: 'claimed', attempt: this.attempts };
  }
  async renew() {
    return { cancelRequested: this.cancelRequested };
  }
  async recordDuration(_v: string, seconds: number) {
    this.duration = seconds;
  }
  async recordProgress(_v: string, progress: Progress) {
    this.progress.push(progress);
  }
  async markFinishing() {
    if (this.cancelRequested) return false;
    this.finishing = true;
    return true;
  }
  done: { mp3s: readonly JobMp3[]; expiresAt: Date } | undefined;
  async markDone(_v: string, result: { mp3s: readonly JobMp3[]; expiresAt: Date }) {
    this.log.push('markDone');
    this.state = 'done';
    this.done = result;
  }
  async markFailed(_v: string, reason: string) {
    this.state = 'failed';
    this.reason = reason;
  }
  async markCancelled() {
    this.state = 'cancelled';
  }
  async release(_v: string, options: { lastError: string | null; refund: boolean }) {
    this.released.push(options);
    this.state = 'queued';
    if (options.lastError) this.lastError = options.lastError;
    if (options.refund) this.attempts--;
  }
}

class FakeTranscoder implements Transcoder {
  /** Thrown by the conversion instead of finishing. */
  failWith: Error | undefined;
  /** The conversion waits for this before finishing (a long job), when set. */
  gate: Promise<void> | undefined;
  /** Seconds of audio reported as encoded, one line each. */
  ticks = [2.5, 5, 7.5, 10];
  /** What each probe read: the copy as it streamed, or the whole file. */
  probes: InputKind[] = [];
  /** Called as each conversion starts (a test lets the copy go on then). */
  beforeRun: (() => void) | undefined;
  async probe(input: MediaInput, _signal?: AbortSignal): Promise<MediaProbe> {
    this.probes.push(kindOf(input));
    const path = 'path' in input ? input.path : input.served.url;
    return {
      durationSeconds: 10,
      bitRate: 128_000,
      sizeBytes: path.endsWith('.mp3') ? 160_000 : 1_000_000,
      hasAudio: true,
      videoStream: 0,
      audioCodec: 'aac',
      sampleRate: 44100,
      channels: 2,
      coverStream: null,
      tags: {},
      chapters: 0,
    };
  }
  async measureMp3(path: string): Promise<Mp3Measure> {
    return { durationSeconds: 10, bitRate: 128_000, sizeBytes: path.length > 0 ? 160_000 : 0, header: { start: 0, end: 600 } };
  }
  plans: EncodingPlan[] = [];
  /** What each run read: fed from the growing copy, or the whole file. */
  inputs: InputKind[] = [];
  /** Each run's failure, in turn (then failWith). */
  runFailures: Error[] = [];
  /** What the loudness meter reads, and the runs it made. */
  loudness: LoudnessReading = { integratedLufs: -30, truePeakDbtp: -12 };
  measured: InputKind[] = [];
  /** Each meter run's failure, in turn. */
  measureFailures: Error[] = [];
  async measureLoudness(input: MediaInput, _plan: EncodingPlan, _signal: AbortSignal, run: EncodeRun = {}): Promise<LoudnessReading> {
    this.measured.push(kindOf(input));
    this.beforeRun?.();
    for (const s of this.ticks) run.onProgress?.(s, 12);
    const growing = growingOf(input);
    if (growing) for (let offset = 0, next = 0; (next = await growing.available(offset)) > offset; ) offset = next;
    const failure = this.measureFailures.shift();
    if (failure) throw failure;
    return this.loudness;
  }
  async toMp3(input: MediaInput, _out: string, plan: EncodingPlan, signal: AbortSignal, run: EncodeRun = {}): Promise<void> {
    this.plans.push(plan);
    this.inputs.push(kindOf(input));
    this.beforeRun?.();
    for (const s of this.ticks) run.onProgress?.(s, 4);
    const growing = growingOf(input);
    if (growing) for (let offset = 0, next = 0; (next = await growing.available(offset)) > offset; ) offset = next;
    if (this.gate) await Promise.race([this.gate, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
    const failure = this.runFailures.shift() ?? this.failWith;
    if (failure) throw failure;
  }
}

let leases: FakeLeases;
let transcoder: FakeTranscoder;
let events: JobEvent[];
let mp3Messages: Mp3Message[];
let failures: FailureMessage[];
let stored: Set<string>;
let uploads: { headers: ByteSpan[]; aborted: number };
let videos: Set<string>;
/** Each served video's URL once it was closed. */
const servedCloses: string[] = [];
/** Copies of the video begun by the default source. */
let copies = 0;
let runner: JobRunner;
let recorded: {
  converted: { seconds: number; encoded?: { mediaSeconds: number; encodeSeconds: number } }[];
  failed: FailureReason[];
  read: { served: number; copied: number }[];
};

function deps(overrides: Partial<RunnerDeps> = {}): RunnerDeps {
  const source: VideoSource = {
    info: async (fid) => (videos.has(fid) ? { filename: 'clip.mp4', length: 1000 } : undefined),
    copyTo: async (_fid, _path, signal, onData) => {
      signal.throwIfAborted();
      copies++;
      onData?.(new Uint8Array(1000));
    },
    serve: async (_fid, _known, { signal }) => {
      signal.throwIfAborted();
      const served = { url: 'http://127.0.0.1:1/fake', bytesServed: 300, error: undefined, close: async () => void servedCloses.push(served.url) };
      servedCloses.length = 0;
      return served;
    },
    delete: async (fid) => void videos.delete(fid),
  };
  const mp3s: Mp3Store = {
    sizeOf: async (fid) => (stored.has(fid) ? 160_000 : undefined),
    delete: async (fid) => void stored.delete(fid),
    follow: async (fid) => ({
      finish: async (_details, header) => {
        uploads.headers.push(header);
        stored.add(fid);
      },
      abort: async () => {
        uploads.aborted++;
        stored.delete(fid);
      },
    }),
    partsOf: async () => [],
  };
  const publisher: ResultPublisher = {
    publishMp3: async (m) => {
      leases.log.push('publishMp3');
      mp3Messages.push(m);
    },
    publishFailure: async (m) => void failures.push(m),
  };
  return {
    leases,
    videos: source,
    mp3s,
    transcoder,
    cutter: {
      chapters: async () => [],
      cut: async () => {
        throw new Error('nothing is split here');
      },
    },
    workspace: { create: async () => ({ dir: '/nowhere', dispose: async () => {} }) },
    publisher,
    events: { publish: (e) => void events.push(e) },
    metrics: {
      converted: (seconds, encoded) => void recorded.converted.push({ seconds, encoded }),
      failed: (reason) => void recorded.failed.push(reason),
      videoRead: ({ served, copied }) => void recorded.read.push({ served, copied }),
    },
    logger: createLogger({ service: 'test', level: 'silent' }),
    limits: mediaLimits(3600),
    maxAttempts: 3,
    leaseRenewMs: 5,
    progressEventMs: 0,
    progressSnapshotMs: 0,
    deferMs: 1000,
    transferTimeoutMs: 10_000,
    encoding: { vbrQuality: 2 },
    retentionMs: 7 * 86_400_000,
    keepVideos: false,
    rangeReads: true,
    ...overrides,
  };
}

beforeEach(() => {
  copies = 0;
  servedCloses.length = 0;
  leases = new FakeLeases();
  transcoder = new FakeTranscoder();
  events = [];
  mp3Messages = [];
  failures = [];
  stored = new Set();
  uploads = { headers: [], aborted: 0 };
  videos = new Set([VIDEO]);
  recorded = { converted: [], failed: [], read: [] };
  runner = new JobRunner(deps());
});

const statesOf = (list: JobEvent[]) => list.filter((e) => e.type === 'state').map((e) => e.state);

describe('JobRunner', () => {
  it('when the video converts, then the MP3 is announced before the job is marked done, and the delivery acked', async () => {
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(leases.log).toEqual(['publishMp3', 'markDone']);
    expect(mp3Messages).toEqual([{ ...message, mp3_fid: mp3IdFor(VIDEO) }]);
    expect(leases.state).toBe('done');
    expect(leases.duration).toBe(10);
    expect(recorded.converted).toEqual([{ seconds: expect.any(Number), encoded: { mediaSeconds: 10, encodeSeconds: expect.any(Number) } }]);
    expect(recorded.failed).toEqual([]);
  });

  it('when it converts, then progress rises, stays below 100 while converting, and 100 comes only with done', async () => {
    await runner.run(message, { replayed: false });
    const percents = events.filter((e) => e.type === 'progress').map((e) => e.percent);
    expect(percents.length).toBeGreaterThan(1);
    expect(percents).toEqual([...percents].sort((a, b) => Number(a) - Number(b)));
    expect(Math.max(...percents.map(Number))).toBeLessThan(100);
    expect(statesOf(events)).toEqual(['converting', 'done']);
    expect(events.at(-1)).toMatchObject({ state: 'done', percent: 100, mp3_fid: mp3IdFor(VIDEO) });
    expect(events.find((e) => e.type === 'progress')).toMatchObject({ speed: 4, eta_seconds: expect.any(Number) });
    expect(leases.progress.length).toBeGreaterThan(0);
  });

  it('when another worker holds the job, then the message is deferred without an attempt counted', async () => {
    leases.held = true;
    expect(await runner.run(message, { replayed: false })).toMatchObject({ kind: 'defer', afterMs: 1000 });
    expect(leases.attempts).toBe(0);
  });

  it('when a second delivery of a job arrives while this worker converts it, then it is deferred, no attempt counted, and the first one finishes', async () => {
    let open!: () => void;
    transcoder.gate = new Promise((resolve) => (open = resolve));
    const first = runner.run(message, { replayed: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(await runner.run(message, { replayed: false })).toMatchObject({ kind: 'defer' });
    expect(leases.attempts).toBe(1);
    open();
    expect(await first).toEqual({ kind: 'done' });
    expect(mp3Messages).toHaveLength(1);
    expect(runner.busy).toBe(0);
  });

  it('when two deliveries of one job arrive at once, then only one is claimed', async () => {
    const [a, b] = await Promise.all([runner.run(message, { replayed: false }), runner.run(message, { replayed: false })]);
    expect([a.kind, b.kind].sort()).toEqual(['defer', 'done']);
    expect(leases.attempts).toBe(1);
    expect(mp3Messages).toHaveLength(1);
  });

  it.each([
    ['queued', false],
    ['held by another worker', true],
  ])(
    "when the message names another user than the job's owner and the job is %s, then it is dead-lettered as owner_mismatch and the job is not touched",
    async (_label, held) => {
      leases.held = held;
      const outcome = await runner.run({ ...message, username: 'intruder@example.test' }, { replayed: false });
      expect(outcome).toEqual({ kind: 'dead', reason: expect.stringMatching(/^owner_mismatch: /) });
      expect(leases).toMatchObject({ state: 'queued', attempts: 0, reason: null });
      expect(mp3Messages).toEqual([]);
      expect(failures).toEqual([]);
      expect(events).toEqual([]);
      expect(recorded.failed).toEqual(['owner_mismatch']);
    },
  );

  it('when a message naming another user is replayed from the dead letters, then it is dead-lettered again', async () => {
    leases.state = 'failed';
    const outcome = await runner.run({ ...message, username: 'intruder@example.test' }, { replayed: true });
    expect(outcome).toMatchObject({ kind: 'dead', reason: expect.stringMatching(/^owner_mismatch: /) });
    expect(leases.state).toBe('failed');
  });

  it('when the job is already finished (a duplicate, or cancelled while queued), then it is acked and nothing is done', async () => {
    leases.state = 'cancelled';
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(mp3Messages).toEqual([]);
    expect(failures).toEqual([]);
  });

  it("when the user's file is bad, then the job fails with its reason, the user is told, and the delivery is acked, not dead-lettered", async () => {
    transcoder.failWith = new PermanentFailure('the video has no audio track');
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(leases).toMatchObject({ state: 'failed', reason: 'the video has no audio track' });
    expect(failures).toEqual([{ ...message, status: 'failed', reason: 'the video has no audio track' }]);
    expect(statesOf(events)).toEqual(['converting', 'failed']);
    expect(recorded.failed).toEqual(['unconvertible']);
  });

  it('when something gives way before the last attempt, then the job goes back to the queue and the message is retried', async () => {
    transcoder.failWith = new TransientFailure('ffmpeg was killed');
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'retry', reason: 'ffmpeg was killed', attempt: 1 });
    expect(leases.released).toEqual([{ lastError: 'ffmpeg was killed', refund: false }]);
    expect(failures).toEqual([]);
  });

  it('when it gives way on the last attempt, then the job fails, the user is told and the message is dead-lettered', async () => {
    transcoder.failWith = new TransientFailure('ffmpeg was killed');
    await runner.run(message, { replayed: false });
    await runner.run(message, { replayed: false });
    const outcome = await runner.run(message, { replayed: false });
    expect(outcome).toEqual({ kind: 'dead', reason: 'gave up after 3 attempts: ffmpeg was killed' });
    expect(leases.state).toBe('failed');
    expect(failures).toHaveLength(1);
    expect(recorded.failed).toEqual(['transient', 'transient', 'transient', 'gave_up']);
  });

  it('when the job was claimed more often than allowed (its worker died every time), then it is given up on without converting', async () => {
    leases.attempts = 3;
    leases.lastError = null;
    const outcome = await runner.run(message, { replayed: false });
    expect(outcome).toEqual({ kind: 'dead', reason: 'gave up after 3 attempts: the conversion was interrupted every time' });
    expect(leases.state).toBe('failed');
    expect(failures).toHaveLength(1);
    expect(mp3Messages).toEqual([]);
  });

  it('when the owner cancels while it converts, then nothing is kept, nobody is told, and the delivery is acked', async () => {
    let open!: () => void;
    transcoder.gate = new Promise((resolve) => (open = resolve));
    const running = runner.run(message, { replayed: false });
    await new Promise((r) => setTimeout(r, 10));
    expect(runner.cancel(VIDEO)).toBe(true);
    open();
    expect(await running).toEqual({ kind: 'done' });
    expect(leases.state).toBe('cancelled');
    expect(videos.has(VIDEO)).toBe(false);
    expect(stored.size).toBe(0);
    expect(mp3Messages).toEqual([]);
    expect(failures).toEqual([]);
    expect(statesOf(events)).toEqual(['converting', 'cancelled']);
  });

  it('when the cancel reaches the worker only through the job (the control message was lost), then the next lease renewal stops it', async () => {
    transcoder.gate = new Promise(() => {});
    const running = runner.run(message, { replayed: false });
    leases.cancelRequested = true;
    expect(await running).toEqual({ kind: 'done' });
    expect(leases.state).toBe('cancelled');
  });

  it('when the cancel comes after the MP3 was stored but before the job is finishing, then the MP3 goes too', async () => {
    stored.add(mp3IdFor(VIDEO));
    leases.cancelRequested = true;
    leases.markFinishing = async () => false;
    runner = new JobRunner(deps({ leaseRenewMs: 60_000 }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(stored.size).toBe(0);
    expect(mp3Messages).toEqual([]);
    expect(leases.state).toBe('cancelled');
  });

  it('when the worker stops mid-job, then the job goes back to the queue with its attempt refunded, and the message is requeued', async () => {
    transcoder.gate = new Promise(() => {});
    const running = runner.run(message, { replayed: false });
    await new Promise((r) => setTimeout(r, 10));
    runner.abortAll();
    expect(await running).toEqual({ kind: 'requeue' });
    expect(leases.released).toEqual([{ lastError: null, refund: true }]);
    expect(leases.attempts).toBe(0);
  });

  it('when a job shows no sign of life for longer than the limit, then it is reported stalled', async () => {
    transcoder.gate = new Promise(() => {});
    transcoder.ticks = [];
    const running = runner.run(message, { replayed: false });
    await new Promise((r) => setTimeout(r, 10));
    expect(runner.stalled(60_000)).toEqual([]);
    expect(runner.stalled(60_000, Date.now() + 120_000)).toEqual([VIDEO]);
    runner.abortAll();
    await running;
    expect(runner.busy).toBe(0);
  });

  it('when reading the video takes longer than the transfer limit, then a transient failure says so', async () => {
    runner = new JobRunner(
      deps({
        transferTimeoutMs: 20,
        videos: {
          info: async () => ({ filename: 'clip.mp4', length: 1 }),
          copyTo: (_f, _p, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
          serve: notServed,
          delete: async () => {},
        },
      }),
    );
    expect(await runner.run(message, { replayed: false })).toEqual({
      kind: 'retry',
      reason: 'reading the video took longer than 0 s and was stopped',
      attempt: 1,
    });
    expect(recorded.failed).toEqual(['timeout']);
  });
});

/** A top-level ISO BMFF box header for `size` bytes, with `body` zero bytes after it. */
function box(type: string, size: number, body = 0): Buffer {
  const b = Buffer.alloc(8 + body);
  b.writeUInt32BE(size, 0);
  b.write(type, 4, 'latin1');
  return b;
}

/** The head of an MP4 made for the web: its index (moov), then the media (mdat), which runs on past the head. */
const fastStartHead = (): Uint8Array => Buffer.concat([box('ftyp', 32, 24), box('moov', 2008, 2000), box('mdat', 8 + 4_500_000), Buffer.alloc(1_500_000)]);
/** The head of an MP4 as cameras write it: the media first, its index after it. */
const indexLastHead = (): Uint8Array => Buffer.concat([box('ftyp', 32, 24), box('mdat', 8 + 4_500_000), Buffer.alloc(1_500_000)]);

/** A video source whose copy sends `head`, then the rest once `release` is called (or fails with its failure). */
function gatedSource(head: Uint8Array) {
  let release: (failure?: Error) => void = () => undefined;
  let whole = false;
  const gate = new Promise<Error | undefined>((resolve) => {
    release = resolve;
  });
  const source: VideoSource = {
    info: async () => ({ filename: 'clip.mp4', length: head.length + 3_000_000 }),
    copyTo: async (_fid, _path, signal, onData) => {
      onData?.(head);
      const failure = await gate;
      signal.throwIfAborted();
      if (failure) throw failure;
      onData?.(new Uint8Array(3_000_000));
      whole = true;
    },
    serve: notServed,
    delete: async () => {},
  };
  return { source, release, isWhole: () => whole };
}

/** Whether the copy was whole at each probe the runner asks for; `then` runs at each, before it answers. */
function wholeAtEachProbe(isWhole: () => boolean, then: () => void = () => undefined): boolean[] {
  const seen: boolean[] = [];
  const probe = transcoder.probe.bind(transcoder);
  transcoder.probe = async (input) => {
    seen.push(isWhole());
    then();
    return probe(input);
  };
  return seen;
}

describe('JobRunner, reading while the video is copied', () => {
  it('when the index comes first, then ffprobe reads the copy as it streams and the encoder is fed as it grows', async () => {
    const { source, release, isWhole } = gatedSource(fastStartHead());
    const wholeWhenProbed = wholeAtEachProbe(isWhole);
    transcoder.beforeRun = () => release();
    runner = new JobRunner(deps({ videos: source }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(wholeWhenProbed).toEqual([false]);
    expect(transcoder.probes).toEqual(['fed']);
    expect(transcoder.inputs).toEqual(['fed']);
    expect(uploads.headers).toEqual([{ start: 0, end: 600 }]);
    expect(stored.has(mp3IdFor(VIDEO))).toBe(true);
  });

  it('when the index comes last, then ffprobe still reads the copy as it streams, and the encoder waits for the whole copy', async () => {
    const { source, release, isWhole } = gatedSource(indexLastHead());
    const wholeWhenProbed = wholeAtEachProbe(isWhole, () => release());
    runner = new JobRunner(deps({ videos: source }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(wholeWhenProbed).toEqual([false]);
    expect(transcoder.probes).toEqual(['fed']);
    expect(transcoder.inputs).toEqual(['file']);
  });

  it('when the file is not an MP4, then the answer that counts comes from the whole copy, which the encoder reads too', async () => {
    const aborted: boolean[] = [];
    const probe = transcoder.probe.bind(transcoder);
    transcoder.probe = async (input, signal) => {
      if (!growingOf(input) || !signal) return probe(input);
      transcoder.probes.push('fed');
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      aborted.push(signal.aborted);
      throw signal.reason;
    };
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(aborted).toEqual([true]);
    expect(transcoder.probes).toEqual(['fed', 'file']);
    expect(transcoder.inputs).toEqual(['file']);
  });

  it('when ffprobe sees no audio as the copy streams, then the whole copy is probed, and that answer counts', async () => {
    const { source, release } = gatedSource(indexLastHead());
    const probe = transcoder.probe.bind(transcoder);
    transcoder.probe = async (input) => {
      release();
      return { ...(await probe(input)), hasAudio: growingOf(input) === undefined };
    };
    runner = new JobRunner(deps({ videos: source }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.probes).toEqual(['fed', 'file']);
    expect(leases.state).toBe('done');
  });

  it('when the fed run fails on the file, then the whole copy gets one more run, and its first upload is removed', async () => {
    const { source, release } = gatedSource(fastStartHead());
    transcoder.beforeRun = () => release();
    transcoder.runFailures = [new PermanentFailure('the file is truncated or damaged')];
    runner = new JobRunner(deps({ videos: source }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.inputs).toEqual(['fed', 'file']);
    expect(uploads.aborted).toBe(1);
    expect(stored.has(mp3IdFor(VIDEO))).toBe(true);
  });

  it('when the file fails both ways, then it is refused for its reason and nothing is kept', async () => {
    const { source, release } = gatedSource(fastStartHead());
    transcoder.beforeRun = () => release();
    transcoder.failWith = new PermanentFailure('the file is truncated or damaged');
    runner = new JobRunner(deps({ videos: source }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.inputs).toEqual(['fed', 'file']);
    expect(leases.reason).toBe('the file is truncated or damaged');
    expect(stored.size).toBe(0);
    expect(uploads.aborted).toBe(2);
  });

  it('when the copy fails while the encoder is fed, then the attempt is retried and not blamed on the file', async () => {
    const { source, release } = gatedSource(fastStartHead());
    transcoder.beforeRun = () => setTimeout(() => release(new TransientFailure('MongoDB cannot be reached')), 5);
    runner = new JobRunner(deps({ videos: source }));
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'retry', reason: 'MongoDB cannot be reached', attempt: 1 });
    expect(transcoder.inputs).toEqual(['fed']);
    expect(stored.size).toBe(0);
    expect(uploads.aborted).toBe(1);
  });

  it('when the finished MP3 breaks a limit, then its upload is removed', async () => {
    transcoder.measureMp3 = async () => ({ durationSeconds: 10, bitRate: 128_000, sizeBytes: 10 * 1024 ** 3, header: { start: 0, end: 600 } });
    expect(await runner.run(message, { replayed: false })).toEqual({ kind: 'done' });
    expect(leases.state).toBe('failed');
    expect(uploads).toEqual({ headers: [], aborted: 1 });
    expect(stored.size).toBe(0);
  });
});

describe('JobRunner, trim and loudness', () => {
  const withOptions = (options: Record<string, unknown>): ConversionMessage => ({ ...message, options });
  const progressEvents = () => events.filter((e) => e.type === 'progress');

  it('when a trim is asked, then the job records the seconds kept, and progress and ETA count against them', async () => {
    transcoder.measureMp3 = async () => ({ durationSeconds: 5, bitRate: 128_000, sizeBytes: 80_000, header: { start: 0, end: 600 } });
    transcoder.ticks = [2.5, 5];
    expect(await runner.run(withOptions({ start: 2, end: 7 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(leases.duration).toBe(5);
    expect(transcoder.plans[0]!.trim).toEqual({ startSeconds: 2, durationSeconds: 5 });
    expect(progressEvents().map((e) => [e.percent, e.eta_seconds])).toEqual([
      [50, 0.6],
      [99.9, 0],
    ]);
    expect(leases.state).toBe('done');
  });

  it('when the trim lies outside the video, then the job fails at once with where it lies, without a retry or a conversion', async () => {
    expect(await runner.run(withOptions({ start: 12 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(leases.state).toBe('failed');
    expect(leases.reason).toBe('the start (0:12) is past the end of the video (0:10)');
    expect(failures.map((f) => f.reason)).toEqual(['the start (0:12) is past the end of the video (0:10)']);
    expect(leases.attempts).toBe(1);
    expect(transcoder.plans).toEqual([]);
  });

  it('when the trim starts later, then the probe and the encoder read the video served by ranges, nothing is copied, and the server is closed after the job', async () => {
    expect(await runner.run(withOptions({ start: 1 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.probes).toEqual(['served']);
    expect(transcoder.inputs).toEqual(['served']);
    expect(copies).toBe(0);
    expect(servedCloses).toEqual(['http://127.0.0.1:1/fake']);
    expect(recorded.read).toEqual([{ served: 300, copied: 0 }]);
    expect(leases.state).toBe('done');
  });

  it('when range reads are off (a store that cannot find a chunk by its index), then a late start reads the whole copy', async () => {
    runner = new JobRunner(deps({ rangeReads: false }));
    expect(await runner.run(withOptions({ start: 1 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.inputs).toEqual(['file']);
    expect(copies).toBe(1);
    expect(servedCloses).toEqual([]);
  });

  it('when a cover frame is asked, then the runs read the video served too; a trim that only ends early is fed from the copy', async () => {
    await runner.run(withOptions({ cover: 'frame@2' }), { replayed: false });
    expect(transcoder.inputs).toEqual(['served']);
    expect(copies).toBe(0);

    const gated = gatedSource(fastStartHead());
    leases = new FakeLeases();
    transcoder.beforeRun = () => gated.release();
    runner = new JobRunner(deps({ videos: gated.source }));
    transcoder.measureMp3 = async () => ({ durationSeconds: 5, bitRate: 128_000, sizeBytes: 80_000, header: { start: 0, end: 600 } });
    await runner.run(withOptions({ end: 5 }), { replayed: false });
    expect(transcoder.inputs).toEqual(['served', 'fed']);
  });

  it('when a served run fails on the file, then the whole copy gets one more run, and the server is closed before it', async () => {
    transcoder.runFailures = [new PermanentFailure('the file is truncated or damaged')];
    let closedBeforeCopy: boolean | undefined;
    transcoder.beforeRun = () => {
      if (transcoder.inputs.at(-1) === 'file') closedBeforeCopy = servedCloses.length === 1;
    };
    expect(await runner.run(withOptions({ start: 1 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.inputs).toEqual(['served', 'file']);
    expect(closedBeforeCopy).toBe(true);
    expect(copies).toBe(1);
    expect(recorded.read).toEqual([{ served: 300, copied: 1000 }]);
    expect(uploads.aborted).toBe(1);
    expect(leases.state).toBe('done');
  });

  it('when the served probe fails on the file, then the copy is probed, and the encoder reads the whole copy', async () => {
    const probe = transcoder.probe.bind(transcoder);
    transcoder.probe = async (input, signal) => {
      if ('served' in input) {
        transcoder.probes.push('served');
        throw new PermanentFailure('the file is not a video or audio file that can be read');
      }
      return probe(input, signal);
    };
    expect(await runner.run(withOptions({ start: 1 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.probes[0]).toBe('served');
    expect(transcoder.inputs).toEqual(['file']);
    expect(servedCloses).toHaveLength(1);
  });

  it('when reading the store fails under a served run, then the attempt is retried, with no run on a copy', async () => {
    transcoder.runFailures = [new TransientFailure('reading the video out of the store failed')];
    expect(await runner.run(withOptions({ start: 1 }), { replayed: false })).toMatchObject({ kind: 'retry' });
    expect(transcoder.inputs).toEqual(['served']);
    expect(copies).toBe(0);
    expect(servedCloses).toHaveLength(1);
  });

  it('when the owner cancels a served job, then the server is closed and nothing is kept', async () => {
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    transcoder.gate = new Promise(() => undefined);
    transcoder.beforeRun = () => started();
    const job = runner.run(withOptions({ start: 1 }), { replayed: false });
    await running;
    runner.cancel(VIDEO);
    expect(await job).toEqual({ kind: 'done' });
    expect(leases.state).toBe('cancelled');
    expect(servedCloses).toHaveLength(1);
  });

  it('when a loudness is asked, then the audio is measured first and encoded once with the gain, and the limiter the true peak needs', async () => {
    transcoder.loudness = { integratedLufs: -30, truePeakDbtp: -16 };
    expect(await runner.run(withOptions({ loudness: -16 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.measured).toEqual(['file']);
    expect(transcoder.plans.map((p) => p.loudness)).toEqual([
      { targetLufs: -16, ceilingDbtp: -1.5, levelling: { gainDb: 14, limitDbfs: -3.5, shortfallDb: 0 } },
    ]);

    transcoder.plans = [];
    leases = new FakeLeases();
    videos.add(VIDEO);
    runner = new JobRunner(deps());
    transcoder.loudness = { integratedLufs: -20, truePeakDbtp: -6 };
    await runner.run(withOptions({ loudness: -23, true_peak: -2 }), { replayed: false });
    expect(transcoder.plans.map((p) => p.loudness?.levelling)).toEqual([{ gainDb: -3, limitDbfs: null, shortfallDb: 0 }]);
  });

  it('when a loudness is asked, then the meter is the first quarter of the progress, and its ETA counts the encoding after it', async () => {
    await runner.run(withOptions({ loudness: -16 }), { replayed: false });
    const seen = progressEvents().map((e) => [e.percent, e.speed, e.eta_seconds]);
    // The meter at 12× over 10 s: 2.5 s done leaves 7.5 s of it and 3 × 10 s of encoding at its speed.
    expect(seen.slice(0, 4)).toEqual([
      [6.3, 12, 3.1],
      [12.5, 12, 2.9],
      [18.8, 12, 2.7],
      [25, 12, 2.5],
    ]);
    expect(seen.slice(4)).toEqual([
      [43.8, 4, 1.9],
      [62.5, 4, 1.3],
      [81.3, 4, 0.6],
      [99.9, 4, 0],
    ]);
  });

  it('when the index comes first, then the meter reads the copy as it grows; failing so on the file, it reads the whole copy', async () => {
    const gated = gatedSource(fastStartHead());
    transcoder.beforeRun = () => gated.release();
    transcoder.measureFailures = [new PermanentFailure('the file is truncated or damaged')];
    runner = new JobRunner(deps({ videos: gated.source }));
    expect(await runner.run(withOptions({ loudness: -16 }), { replayed: false })).toEqual({ kind: 'done' });
    expect(transcoder.measured).toEqual(['fed', 'file']);
    expect(leases.state).toBe('done');
  });
});
