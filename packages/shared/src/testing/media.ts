import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface VideoOptions {
  seconds: number;
  /**
   * A steady sine tone (default), `varied` (noise for the first half, silence after: a VBR encoder's bitrate
   * swings, so a duration guessed from the bitrate is far off), or false for no audio stream at all.
   */
  audio?: boolean | 'varied';
  /** mp4 (default), mkv or webm; or mp3, audio alone (LAME, 128 kbit/s). */
  container?: 'mp4' | 'mkv' | 'webm' | 'mp3';
  /**
   * An ffmetadata file's text (`;FFMETADATA1`, tags, `[CHAPTER]` sections): the file's global tags and its
   * chapters. Written as given: escaping its values is the caller's.
   */
  metadata?: string;
  /** A cover: a small JPEG as an attached picture (mp3 and mp4). */
  cover?: boolean;
  /** For mp4: put the index (moov) at the start (true) or leave it at the end, ffmpeg's default (false). */
  faststart?: boolean;
  width?: number;
  height?: number;
  fps?: number;
}

/** A small generated video in a fresh temp folder; `cleanup` removes the folder. */
export async function makeVideo(options: VideoOptions): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const { seconds, audio = true, container = 'mp4', faststart = true, width = 160, height = 120, fps = 10, metadata, cover = false } = options;
  const dir = await mkdtemp(join(tmpdir(), 'mp3c-media-'));
  const path = join(dir, `video.${container}`);
  const video = container !== 'mp3';
  const inputs: string[][] = [];
  if (video) inputs.push(['-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}:duration=${seconds}`]);
  if (audio === 'varied') inputs.push(['-f', 'lavfi', '-i', `aevalsrc=if(lt(t\\,${seconds / 2})\\,random(0)*2-1\\,0):s=44100:d=${seconds}`]);
  else if (audio) inputs.push(['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`]);
  const args = ['-hide_banner', '-loglevel', 'error', ...inputs.flat()];
  const maps = inputs.flatMap((_, i) => ['-map', `${i}`]);
  if (cover) {
    // The picture is the second video stream of a video, the first of an MP3.
    const v = video ? 1 : 0;
    args.push('-f', 'lavfi', '-i', 'color=c=red:size=64x64:duration=1');
    maps.push('-map', `${inputs.length}`, `-frames:v:${v}`, '1', `-c:v:${v}`, 'mjpeg', `-disposition:v:${v}`, 'attached_pic');
    inputs.push([]);
  }
  if (metadata !== undefined) {
    await writeFile(join(dir, 'metadata.txt'), metadata);
    args.push('-f', 'ffmetadata', '-i', join(dir, 'metadata.txt'));
    maps.push('-map_metadata', `${inputs.length}`, '-map_chapters', `${inputs.length}`);
  }
  args.push(...maps);
  if (container === 'mp3') args.push('-c:a', 'libmp3lame', '-b:a', '128k', '-id3v2_version', '3', '-write_id3v1', '0');
  else if (container === 'webm') args.push('-c:v:0', 'libvpx', '-deadline', 'realtime', '-b:v', '100k', ...(audio ? ['-c:a', 'libopus'] : []));
  else args.push('-c:v:0', 'libx264', '-preset', 'ultrafast', '-pix_fmt:v:0', 'yuv420p', ...(audio ? ['-c:a', 'aac', '-b:a', '96k'] : []));
  if (container === 'mp4' && faststart) args.push('-movflags', '+faststart');
  // A cover (one frame) would end the file at once.
  if (video && !cover) args.push('-shortest');
  args.push('-y', path);
  await run('ffmpeg', args);
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface Probe {
  formatName: string;
  durationSeconds: number;
  bitRate: number;
  streams: { codecType: string; codecName: string }[];
}

/** ffprobe's view of a file (path or `pipe:0` with `input`). */
export async function probe(path: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  const json = JSON.parse(stdout) as {
    format: { format_name: string; duration: string; bit_rate: string };
    streams: { codec_type: string; codec_name: string }[];
  };
  return {
    formatName: json.format.format_name,
    durationSeconds: Number(json.format.duration),
    bitRate: Number(json.format.bit_rate),
    streams: json.streams.map((s) => ({ codecType: s.codec_type, codecName: s.codec_name })),
  };
}

/** An MP3 of a sine tone, `seconds` long, as bytes. */
export async function makeMp3(seconds: number): Promise<Buffer> {
  const { stdout } = await run(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, '-c:a', 'libmp3lame', '-f', 'mp3', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 64 << 20 },
  );
  return stdout;
}

/**
 * A wrapper around the real ffmpeg that reads its (first) input at `speed` × real time (ffmpeg's `-readrate`),
 * for a converter's FFMPEG_PATH: a conversion then lasts about its source's length / `speed` however fast the
 * machine, long enough for a test to see it mid-way and act on it. `cleanup` removes the wrapper's folder.
 */
export async function pacedFfmpeg(speed: number): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'paced-ffmpeg-'));
  const path = join(dir, 'ffmpeg');
  await writeFile(path, `#!/bin/sh\nexec ffmpeg -readrate ${speed} "$@"\n`);
  await chmod(path, 0o755);
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
