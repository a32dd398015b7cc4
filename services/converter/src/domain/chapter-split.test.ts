import { beforeEach, describe, expect, it } from 'vitest';
import { ChapterSplit, type CutPart, type CutRun, type CutSource, type PartCutter } from './chapter-split.js';
import { type SourceChapter, planParts } from './chapters.js';
import type { EncodingPlan } from './encoding-plan.js';
import { mediaLimits } from './media-limits.js';
import { mp3PartIdFor } from './mp3-id.js';
import type { MediaInput, MediaProbe, Mp3Details, Mp3Measure, Mp3Store, StoredPart, Transcoder } from './ports.js';

const VIDEO = '65f0c0ffee00112233445566';
const limits = mediaLimits(3600);

const probe = (over: Partial<MediaProbe> = {}): MediaProbe => ({
  durationSeconds: 30,
  bitRate: 128_000,
  sizeBytes: 480_000,
  hasAudio: true,
  videoStream: null,
  audioCodec: 'mp3',
  sampleRate: 44100,
  channels: 2,
  coverStream: 1,
  tags: { title: 'The Book', artist: 'Author' },
  chapters: 3,
  ...over,
});

const copyPlan: EncodingPlan = {
  audio: { mode: 'copy' },
  trim: null,
  loudness: null,
  tags: { tags: { title: 'The Book', artist: 'Author' }, keepSource: true, chapters: true, cover: { from: 'stream', index: 1 } },
} as EncodingPlan;
const encodePlan: EncodingPlan = {
  ...copyPlan,
  audio: { mode: 'encode', vbrQuality: 2, bitrateKbps: null, sampleRate: null, channels: null },
} as EncodingPlan;

const chapters: SourceChapter[] = [
  { startSeconds: 0, endSeconds: 10, title: 'One' },
  { startSeconds: 10, endSeconds: 25, title: 'Two' },
  { startSeconds: 25, endSeconds: 30, title: 'Three' },
];

class FakeCutter implements PartCutter {
  cuts: { source: CutSource; parts: CutPart[] }[] = [];
  async chapters(): Promise<SourceChapter[]> {
    return chapters;
  }
  async cut(source: CutSource, parts: readonly CutPart[], _signal: AbortSignal, run: CutRun): Promise<void> {
    this.cuts.push({ source, parts: [...parts] });
    // Two batches, as the adapter makes them when there are many.
    await run.onCut(parts.slice(0, 2));
    await run.onCut(parts.slice(2));
  }
}

class FakeTranscoder implements Partial<Transcoder> {
  encoded: { input: string; output: string; plan: EncodingPlan }[] = [];
  async toMp3(input: MediaInput, output: string, plan: EncodingPlan): Promise<void> {
    this.encoded.push({ input: 'path' in input ? input.path : input.served.url, output, plan });
  }
  async probe(): Promise<MediaProbe> {
    return probe({ coverStream: 1 });
  }
  async measureMp3(path: string): Promise<Mp3Measure> {
    const seconds = { 'part-1.mp3': 10, 'part-2.mp3': 15, 'part-3.mp3': 5 }[path.split('/').at(-1)!] ?? 0;
    return { durationSeconds: seconds, bitRate: 128_000, sizeBytes: seconds * 16_000, header: { start: 0, end: 600 } };
  }
}

let cutter: FakeCutter;
let transcoder: FakeTranscoder;
let stored: Map<string, Mp3Details>;
let failOn: string | undefined;
let split: ChapterSplit;

const mp3s: Mp3Store = {
  sizeOf: async (fid) => (stored.has(fid) ? 1 : undefined),
  delete: async (fid) => void stored.delete(fid),
  follow: async (fid) => ({
    finish: async (details) => {
      if (details.filename === failOn) throw new Error('MongoDB went away');
      stored.set(fid, details);
    },
    abort: async () => void stored.delete(fid),
  }),
  partsOf: async () =>
    [...stored].flatMap(([mp3Fid, d]) => (d.part ? [{ mp3Fid, sizeBytes: 100, durationSeconds: d.durationSeconds, part: d.part as StoredPart }] : [])),
};

const job = (plan: EncodingPlan) => ({
  videoFid: VIDEO,
  owner: 'owner@example.test',
  input: '/job/input',
  dir: '/job',
  source: probe(),
  plan,
  expiresAt: new Date(86_400_000),
  leftovers: false,
});
const run = {
  onEncodeProgress: () => {},
  onCutProgress: () => {},
  bounded: (_w: string, s: AbortSignal, t: (s: AbortSignal) => Promise<void>) => t(s),
  startedAt: 0,
};
const signal = new AbortController().signal;
const parts = planParts(chapters, { startSeconds: 0, durationSeconds: 30 });

beforeEach(() => {
  cutter = new FakeCutter();
  transcoder = new FakeTranscoder();
  stored = new Map();
  failOn = undefined;
  split = new ChapterSplit({ transcoder: transcoder as unknown as Transcoder, cutter, mp3s, limits });
});

describe('ChapterSplit', () => {
  it('when the source’s audio is MP3 copied as it is, then the parts are cut from the source itself with its cover, and each is stored under its own id', async () => {
    const mp3 = await split.run(job(copyPlan), parts, signal, run);
    expect(transcoder.encoded).toEqual([]);
    expect(cutter.cuts).toHaveLength(1);
    expect(cutter.cuts[0]!.source).toEqual({ path: '/job/input', coverStream: 1 });
    expect(cutter.cuts[0]!.parts.map((p) => [p.startSeconds, p.endSeconds, p.tags])).toEqual([
      [0, 10, { artist: 'Author', album: 'The Book', title: 'One', track: '1/3' }],
      [10, 25, { artist: 'Author', album: 'The Book', title: 'Two', track: '2/3' }],
      [25, null, { artist: 'Author', album: 'The Book', title: 'Three', track: '3/3' }],
    ]);
    expect(mp3).toEqual([
      { fid: mp3PartIdFor(VIDEO, 1), title: 'One', durationSeconds: 10, size: 160_000 },
      { fid: mp3PartIdFor(VIDEO, 2), title: 'Two', durationSeconds: 15, size: 240_000 },
      { fid: mp3PartIdFor(VIDEO, 3), title: 'Three', durationSeconds: 5, size: 80_000 },
    ]);
    expect(stored.get(mp3PartIdFor(VIDEO, 2))).toMatchObject({ filename: '02 - Two.mp3', videoFid: VIDEO, part: { number: 2, of: 3, title: 'Two' } });
  });

  it('when the audio must change, then it is encoded once, without tags or chapters but with its cover, and that MP3 is cut', async () => {
    await split.run(job(encodePlan), parts, signal, run);
    expect(transcoder.encoded).toHaveLength(1);
    expect(transcoder.encoded[0]).toMatchObject({ input: '/job/input', output: '/job/whole.mp3' });
    expect(transcoder.encoded[0]!.plan.tags).toEqual({ tags: {}, keepSource: false, chapters: false, cover: { from: 'stream', index: 1 } });
    expect(cutter.cuts[0]!.source).toEqual({ path: '/job/whole.mp3', coverStream: 1 });
  });

  it('when storing a part fails, then the parts stored before it are removed and the failure goes on', async () => {
    failOn = '03 - Three.mp3';
    await expect(split.run(job(copyPlan), parts, signal, run)).rejects.toThrow('MongoDB went away');
    expect(stored.size).toBe(0);
  });

  it('when a part comes out much shorter than its chapter, then the file is refused as cut off', async () => {
    const short = planParts([...chapters, { startSeconds: 28, endSeconds: 60, title: 'Four' }], { startSeconds: 0, durationSeconds: 60 });
    await expect(split.run(job(copyPlan), short, signal, run)).rejects.toMatchObject({ reason: 'the file is truncated or damaged: its audio ends early' });
    expect(stored.size).toBe(0);
  });

  it('when an earlier attempt stored every part, then they are found again in order; when it stored only some, they are not', async () => {
    await split.run(job(copyPlan), parts, signal, run);
    expect((await split.storedEarlier(VIDEO))?.map((m) => m.title)).toEqual(['One', 'Two', 'Three']);
    stored.delete(mp3PartIdFor(VIDEO, 2));
    expect(await split.storedEarlier(VIDEO)).toBeUndefined();
  });

  it('when the source lists no chapters, then there is nothing to split, without reading them', async () => {
    expect(await split.plan('/job/input', copyPlan, probe({ chapters: 0 }), signal)).toEqual([]);
    expect((await split.plan('/job/input', copyPlan, probe(), signal)).map((p) => p.title)).toEqual(['One', 'Two', 'Three']);
  });
});
