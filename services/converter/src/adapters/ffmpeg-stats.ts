/**
 * ffmpeg's statistics line (`size=… time=00:01:02.50 bitrate=… speed=3.1x`), printed to standard error
 * about twice a second when `-stats` is on, even at `-v error`. It is where the encoder says how far it is,
 * with no ffprobe run of its own.
 */
export interface EncoderStats {
  /** Seconds of output written so far. */
  seconds: number;
  /** × realtime; null while ffmpeg cannot tell yet (`speed=N/A`). */
  speed: number | null;
}

const TIME = /\btime=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/;
const SPEED = /\bspeed=\s*([\d.]+)x/;

/** The figures of one statistics line, or undefined for any other line. */
export function parseStatsLine(line: string): EncoderStats | undefined {
  const time = TIME.exec(line);
  if (!time) return undefined;
  const [, sign, h = '0', m = '0', s = '0'] = time;
  const seconds = sign === '-' ? 0 : Number(h) * 3600 + Number(m) * 60 + Number(s);
  const speed = SPEED.exec(line)?.[1];
  return { seconds, speed: speed === undefined ? null : Number(speed) };
}
