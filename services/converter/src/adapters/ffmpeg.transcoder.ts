import ffmpeg from 'fluent-ffmpeg';
import { type MediaProbe, PermanentFailure, type Transcoder, TransientFailure } from '../domain/ports.js';

export interface FfmpegOptions {
  ffmpegPath: string;
  ffprobePath: string;
  timeoutMs: number;
  /** LAME VBR quality (0–9) unless a constant bitrate is given. */
  vbrQuality: number;
  bitrateKbps?: number | undefined;
}

const TRUNCATED = /moov atom not found|partial file|truncat|end of file|premature/i;
const UNREADABLE = /Invalid data found|could not find codec parameters|no such file|does not contain any stream/i;

/** A user-readable reason for what ffmpeg/ffprobe said about bad input. */
function inputProblem(stderr: string): string {
  if (TRUNCATED.test(stderr)) return 'the file is truncated or damaged';
  if (UNREADABLE.test(stderr)) return 'the file is not a video or audio file that can be read';
  return 'the file could not be converted';
}

/**
 * ffmpeg through fluent-ffmpeg. The input is a local file, never a pipe: an MP4 whose index (moov) sits at
 * the end cannot be read from a pipe. The output is a file too, so ffmpeg can go back and write the VBR
 * (Xing/LAME) header that carries the duration; written to a pipe, players misreport a VBR MP3's length.
 */
export class FfmpegTranscoder implements Transcoder {
  constructor(private readonly options: FfmpegOptions) {}

  probe(path: string): Promise<MediaProbe> {
    return new Promise((resolve, reject) => {
      const command = ffmpeg(path).setFfprobePath(this.options.ffprobePath);
      command.ffprobe((err: Error | null, data: ffmpeg.FfprobeData) => {
        if (err) {
          if (/ENOENT|spawn/.test(err.message) && !/No such file or directory/.test(err.message)) {
            return reject(new TransientFailure('ffprobe could not be started', { cause: err }));
          }
          return reject(new PermanentFailure(inputProblem(err.message), { cause: err }));
        }
        const audio = data.streams.find((s) => s.codec_type === 'audio');
        const video = data.streams.find((s) => s.codec_type === 'video');
        const duration = Number(audio?.duration ?? data.format.duration ?? 0);
        resolve({
          durationSeconds: Number.isFinite(duration) ? duration : 0,
          bitRate: Number(data.format.bit_rate ?? 0) || 0,
          hasAudio: audio !== undefined,
          hasVideo: video !== undefined,
        });
      });
    });
  }

  toMp3(input: string, output: string, signal: AbortSignal): Promise<void> {
    const { ffmpegPath, timeoutMs, vbrQuality, bitrateKbps } = this.options;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      let timedOut = false;
      const command = ffmpeg(input, { stdoutLines: 20 })
        .setFfmpegPath(ffmpegPath)
        .inputOptions(['-hide_banner', '-nostdin'])
        .noVideo()
        .outputOptions(['-map', '0:a:0', '-map_metadata', '-1', '-v', 'error'])
        .audioCodec('libmp3lame')
        .format('mp3');
      if (bitrateKbps) command.audioBitrate(bitrateKbps);
      else command.outputOptions(['-q:a', String(vbrQuality)]);

      const kill = () => command.kill('SIGKILL');
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, timeoutMs);
      signal.addEventListener('abort', kill, { once: true });
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', kill);
      };

      command
        .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
          finish();
          if (signal.aborted) return reject(signal.reason);
          if (timedOut) return reject(new TransientFailure(`the conversion took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`));
          if (/killed with signal|SIGKILL|SIGTERM/.test(err.message)) return reject(new TransientFailure('ffmpeg was killed', { cause: err }));
          if (/ENOENT|spawn/.test(err.message) && !stderr) return reject(new TransientFailure('ffmpeg could not be started', { cause: err }));
          reject(new PermanentFailure(inputProblem(`${err.message}\n${stderr ?? ''}`), { cause: err }));
        })
        .on('end', (_stdout: string | null, stderr: string | null) => {
          finish();
          // ffmpeg exits 0 on a cut-off MP4 with its index at the front, having said so at error level.
          if (stderr && TRUNCATED.test(stderr)) return reject(new PermanentFailure('the file is truncated or damaged'));
          resolve();
        })
        .save(output);
    });
  }
}
