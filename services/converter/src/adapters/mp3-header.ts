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

/** Where the Xing/Info tag of a frame is, and what the frame's header says; undefined without one. */
function xingTagOf(frame: Buffer): { at: number; sampleRate: number; samplesPerFrame: number } | undefined {
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
  const at = 4 + (mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17);
  const tag = frame.toString('latin1', at, at + 4);
  if (tag !== 'Xing' && tag !== 'Info') return undefined;
  return { at, sampleRate, samplesPerFrame: mpeg1 ? 1152 : 576 };
}

/** `frame`: the bytes from the first frame's header on (at least 200). */
export function xingLength(frame: Buffer): Mp3Length | undefined {
  const xing = xingTagOf(frame);
  if (!xing) return undefined;
  const flags = frame.readUInt32BE(xing.at + 4);
  if (!(flags & 1)) return undefined;
  const frames = frame.readUInt32BE(xing.at + 8);
  if (frames === 0) return undefined;
  return { durationSeconds: (frames * xing.samplesPerFrame) / xing.sampleRate, frames, sampleRate: xing.sampleRate };
}

/** The LAME tag's CRC-16 covers the frame's first 190 bytes (its own field, where it lies among them, as zero). */
const LAME_CRC_BYTES = 190;

/** Where the LAME tag's fields lie in a first frame that has one (ffmpeg's or LAME's); undefined without. */
function lameTagOf(frame: Buffer): { delayAt: number; crcAt: number } | undefined {
  const xing = xingTagOf(frame);
  if (!xing) return undefined;
  const flags = frame.readUInt32BE(xing.at + 4);
  const lame = xing.at + 8 + (flags & 1 ? 4 : 0) + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
  const crcAt = lame + 34;
  if (frame.length < Math.max(crcAt + 2, LAME_CRC_BYTES) || !/^(LAME|Lavf|Lavc)/.test(frame.toString('latin1', lame, lame + 4))) return undefined;
  return { delayAt: lame + 21, crcAt };
}

/** The encoder delay the LAME tag gives (samples a player skips before the decoder's own 529); undefined without a tag. */
export function encoderDelayOf(frame: Buffer): number | undefined {
  const tag = lameTagOf(frame);
  return tag && frame.readUIntBE(tag.delayAt, 3) >>> 12;
}

/**
 * The first frame (as far as its LAME tag goes) with the tag's encoder delay set to `delay` samples, its
 * padding kept and its CRC made again as ffmpeg makes it; undefined without a LAME tag.
 *
 * A part cut from an MP3 after its first frame has no encoder delay to skip, but ffmpeg 5.1's MP3 muxer
 * takes one from the source's last frame, whose side data gives only the end padding: an unsigned
 * subtraction there writes a delay of 3567 samples, and a player would drop 81 ms from the part's start.
 */
export function withEncoderDelay(frame: Buffer, delay: number): Buffer | undefined {
  const tag = lameTagOf(frame);
  if (!tag || !Number.isInteger(delay) || delay < 0 || delay > 0xfff) return undefined;
  const fixed = Buffer.from(frame.subarray(0, Math.max(tag.crcAt + 2, LAME_CRC_BYTES)));
  fixed.writeUIntBE((delay << 12) | (fixed.readUIntBE(tag.delayAt, 3) & 0xfff), tag.delayAt, 3);
  fixed.writeUInt16BE(0, tag.crcAt);
  fixed.writeUInt16BE(crc16(fixed.subarray(0, LAME_CRC_BYTES)), tag.crcAt);
  return fixed;
}

/** CRC-16/ARC (ffmpeg's AV_CRC_16_ANSI_LE, starting at 0). */
function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}
