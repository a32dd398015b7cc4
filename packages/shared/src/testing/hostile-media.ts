import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** An ID3v2.4 tag of `tagBytes` bytes in all (padding), then `body`: ffmpeg and first-bytes checks skip the tag. */
export function behindId3(body: Buffer | string, tagBytes = 256 * 1024): Buffer {
  const size = tagBytes - 10;
  const header = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([header, Buffer.alloc(size), Buffer.from(body)]);
}

/** `RIFF`, a size without a NUL byte, `WAVE`, then `body`: the start of a WAV to a first-bytes check. */
export const behindRiff = (body: Buffer | string): Buffer => Buffer.concat([Buffer.from('RIFF\x01\x01\x01\x01WAVE', 'latin1'), Buffer.from(body)]);

/**
 * An HLS media playlist. Live (no `#EXT-X-ENDLIST`) with a long target duration, ffmpeg waits that long for
 * the next segment once it has read the first.
 */
export function hlsPlaylist(segments: string[], { live = false, targetSeconds = 10 } = {}): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${targetSeconds}`, '#EXT-X-MEDIA-SEQUENCE:0'];
  for (const s of segments) lines.push(`#EXTINF:${targetSeconds}.0,`, s);
  if (!live) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** A static DASH manifest whose only representation is `mediaUrl`. */
export const dashManifest = (mediaUrl: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" type="static" mediaPresentationDuration="PT3S" minBufferTime="PT1S">
  <Period><AdaptationSet mimeType="audio/mp4"><Representation id="a" bandwidth="64000" codecs="mp4a.40.2"><BaseURL>${mediaUrl}</BaseURL></Representation></AdaptationSet></Period>
</MPD>
`;

/** An ffconcat list of `files`. */
export const ffconcatList = (files: string[]): string => `ffconcat version 1.0\n${files.map((f) => `file '${f}'`).join('\n')}\n`;

/**
 * The start of an MPEG-TS stream (tables and the first audio packets, not enough for ffmpeg to know the
 * stream), inline as a `data:` URI that ends in `.ts`.
 */
export async function partialTsDataUri(): Promise<string> {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'sine=duration=1:sample_rate=8000',
      '-ac',
      '1',
      '-c:a',
      'mp2',
      '-b:a',
      '32k',
      '-f',
      'mpegts',
      'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 1 << 20 },
  );
  return `data:video/mp2t;base64,${stdout.subarray(0, 188 * 4).toString('base64')}#.ts`;
}

export interface HostileFile {
  name: string;
  data: Buffer;
}

/**
 * Uploads that would make ffmpeg fetch something other than themselves: HLS, DASH and ffconcat behind an ID3
 * tag and behind a RIFF header, pointing at local media files (`local.ts`, `local.mp4`: absolute paths on
 * the converter's machine that no upload may reach), and a live HLS playlist whose only segment is an
 * inline `data:` URI, bare and behind an ID3 tag.
 */
export async function hostileCorpus(local: { ts: string; mp4: string }): Promise<HostileFile[]> {
  const liveData = hlsPlaylist([await partialTsDataUri()], { live: true, targetSeconds: 86_400 });
  const hls = hlsPlaylist([local.ts]);
  const dash = dashManifest(`file://${local.mp4}`);
  const concat = ffconcatList([local.mp4]);
  return [
    { name: 'a live HLS playlist with an inline data: segment, behind an ID3 tag', data: behindId3(liveData) },
    { name: 'a live HLS playlist with an inline data: segment', data: Buffer.from(liveData) },
    { name: 'an HLS playlist of a local file, behind an ID3 tag', data: behindId3(hls) },
    { name: 'an HLS playlist of a local file, behind a RIFF header', data: behindRiff(hls) },
    { name: 'a DASH manifest of a local file, behind an ID3 tag', data: behindId3(dash) },
    { name: 'a DASH manifest of a local file, behind a RIFF header', data: behindRiff(dash) },
    { name: 'an ffconcat list of a local file, behind an ID3 tag', data: behindId3(concat) },
    { name: 'an ffconcat list of a local file, behind a RIFF header', data: behindRiff(concat) },
  ];
}

/**
 * A raw ADTS AAC stream of `seconds` whose first two seconds are loud noise and the rest silence: ffprobe
 * estimates its length from the early bitrate, so it says a few seconds where there are `seconds`.
 */
export async function understatedAac(seconds: number): Promise<Buffer> {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `aevalsrc=if(lt(t\\,2)\\,random(0)*2-1\\,0):s=44100:d=${seconds}`,
      '-c:a',
      'aac',
      '-b:a',
      '256k',
      '-f',
      'adts',
      'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 64 << 20 },
  );
  return stdout;
}

/** ffmetadata's escaping (a backslash before `=`, `;`, `#`, a backslash and line ends), so that any tag name reaches the MP3 as it is. */
const ffmetadataText = (tags: readonly (readonly [string, string])[]): string =>
  `;FFMETADATA1\n${tags.map(([k, v]) => `${k.replace(/[=;#\\\n\r]/g, '\\$&')}=${v.replace(/[=;#\\\n\r]/g, '\\$&')}\n`).join('')}`;

/**
 * A short MP3 (a sine tone) whose ID3v2.3 tag holds `tags` in this order, made by ffmpeg from an ffmetadata
 * file: a name outside ID3's own frames becomes a TXXX frame of exactly that name (spaces, `=` and all), and
 * ffprobe reads it back as a format tag of that name.
 */
export async function id3TaggedMp3(tags: readonly (readonly [string, string])[], seconds = 2): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'id3-tagged-'));
  try {
    await writeFile(join(dir, 'tags.txt'), ffmetadataText(tags));
    await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`],
      ...['-f', 'ffmetadata', '-i', join(dir, 'tags.txt'), '-map', '0:a', '-map_metadata', '1', '-id3v2_version', '3'],
      ...['-c:a', 'libmp3lame', '-q:a', '6', join(dir, 'tagged.mp3')],
    ]);
    return await readFile(join(dir, 'tagged.mp3'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The first tag of each attack below: should tag names ever be split at a space into ffmpeg arguments after a
 * `-metadata`, this one's first word is the metadata it sets and its second (`-scodec:`, the subtitle codec,
 * harmless without subtitles) swallows the next `-metadata`, so the next tag name's first word is read as an
 * option of ffmpeg's own.
 */
const FREE_NEXT_NAME = ['x=y -scodec:', '1'] as const;

/**
 * ID3 tag sets that would run ffmpeg options of the uploader's choosing were tag names ever split into
 * ffmpeg's arguments: `readFile` renders a local text file into a picture stream (`movie=…:f=tty`);
 * `progressTo` has ffmpeg write its progress report to a file or URL (`tcp://…` connects out); `extraOutput`
 * adds an output file of the uploader's naming (its name free of the `=` that empties a tag: the next tag's
 * `-scodec:` takes that, and a last tag puts the arguments back in step). The `=` that empties a tag sticks
 * to the last word: the file `progressTo` writes is `target=`.
 */
export const optionInjectionTags = {
  readFile: (path: string) => [['title', 'Hostile'], FREE_NEXT_NAME, [`-filter_complex movie=${path}:f=tty,null`, '2']] as const,
  progressTo: (target: string) => [['title', 'Hostile'], FREE_NEXT_NAME, [`-progress ${target}`, '2']] as const,
  extraOutput: (path: string) => [['title', 'Hostile'], FREE_NEXT_NAME, [`${path} -scodec:`, '2'], ['-scodec: x=y', '3']] as const,
};
