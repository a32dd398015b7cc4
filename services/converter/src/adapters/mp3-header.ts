/**
 * An MP3's length from its Xing/LAME (VBR) or Info (CBR) header, as ffmpeg's muxer writes it into the first
 * frame: frames × samples per frame ÷ sample rate. Reading a few hundred bytes saves an ffprobe run per
 * job; undefined when there is no such header (the caller asks ffprobe then).
 */
export interface Mp3Length {
  durationSeconds: number;
  frames: number;
  sampleRate: number;
}

const SAMPLE_RATES = [44100, 48000, 32000];

/** No Layer III frame is longer: 144 × 320 kbit/s ÷ 32 kHz + padding is 1441 bytes, with room to spare. */
export const MAX_FRAME_BYTES = 2048;

/** Where the first frame starts: after an ID3v2 tag (10-byte header, syncsafe size, optional footer). */
export function firstFrameOffset(head: Buffer): number | undefined {
  if (head.length < 10) return undefined;
  if (head.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) | ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f);
  const footer = head[5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** `frame`: the bytes from the first frame's header on (at least 200). */
export function xingLength(frame: Buffer): Mp3Length | undefined {
  if (frame.length < 64) return undefined;
  const header = frame.readUInt32BE(0);
  if (header >>> 21 !== 0x7ff) return undefined;
  const version = (header >>> 19) & 3; // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
  const layer = (header >>> 17) & 3; // 1: Layer III
  const rateIndex = (header >>> 10) & 3;
  if (version === 1 || layer !== 1 || rateIndex === 3) return undefined;
  const mono = ((header >>> 6) & 3) === 3;
  const mpeg1 = version === 3;
  const sampleRate = SAMPLE_RATES[rateIndex]! / (mpeg1 ? 1 : version === 2 ? 2 : 4);
  const samplesPerFrame = mpeg1 ? 1152 : 576;
  const at = 4 + (mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17);
  const tag = frame.toString('latin1', at, at + 4);
  if (tag !== 'Xing' && tag !== 'Info') return undefined;
  const flags = frame.readUInt32BE(at + 4);
  if (!(flags & 1)) return undefined;
  const frames = frame.readUInt32BE(at + 8);
  if (frames === 0) return undefined;
  return { durationSeconds: (frames * samplesPerFrame) / sampleRate, frames, sampleRate };
}
