import { describe, expect, it } from 'vitest';
import { behindId3, behindRiff, dashManifest, ffconcatList, hlsPlaylist } from '../testing/hostile-media.js';
import { MEDIA_HEAD_MAX_BYTES, MEDIA_SNIFF_BYTES, type MediaHeadVerdict, id3v2TagLength, inspectMediaHead, looksLikeText } from './index.js';

/** Asks as the gateway does: the first bytes, then as many more as the answer wants. */
async function inspectFile(file: Buffer): Promise<{ verdict: MediaHeadVerdict; bytesRead: number }> {
  let bytesRead = Math.min(MEDIA_SNIFF_BYTES, file.length);
  for (;;) {
    const verdict = await inspectMediaHead(file.subarray(0, bytesRead), bytesRead >= file.length);
    if (verdict.kind !== 'need-more') return { verdict, bytesRead };
    expect(verdict.bytes).toBeGreaterThan(bytesRead);
    expect(verdict.bytes).toBeLessThanOrEqual(MEDIA_HEAD_MAX_BYTES);
    bytesRead = Math.min(verdict.bytes, file.length);
  }
}

const mp4 = Buffer.concat([Buffer.from('\0\0\0\x18ftypisom\0\0\x02\0isomiso2', 'latin1'), Buffer.alloc(8_000, 1)]);
/** MPEG-1 layer III frames, 128 kbit/s at 44.1 kHz, filled with arbitrary bytes. */
const mp3Frames = Buffer.concat(Array.from({ length: 20 }, () => Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(413, 0x55)])));
const wav = Buffer.concat([
  Buffer.from('RIFF', 'latin1'),
  Buffer.from([0x24, 0x10, 0, 0]),
  Buffer.from('WAVEfmt ', 'latin1'),
  Buffer.from([16, 0, 0, 0, 1, 0, 1, 0, 0x44, 0xac, 0, 0, 0x88, 0x58, 1, 0, 2, 0, 16, 0]),
  Buffer.from('data', 'latin1'),
  Buffer.from([0, 0x10, 0, 0]),
  Buffer.alloc(4096, 3),
]);
const dataSegment = 'data:video/mp2t;base64,R0AREABC8CUAAcEAAP8B/wAB/IAUSBIBBkZGbXBlZwlTZXJ2aWNlMDF3fEPK#.ts';
const liveHls = hlsPlaylist([dataSegment], { live: true, targetSeconds: 86_400 });
const localHls = hlsPlaylist(['/tmp/secret.ts']);
const dash = dashManifest('file:///tmp/secret.mp4');
const concat = ffconcatList(['/tmp/secret.mp4']);

describe('id3v2TagLength', () => {
  it('when a tag header is there, then its length counts the header and the syncsafe size', () => {
    expect(id3v2TagLength(behindId3('', 300_000))).toBe(300_000);
  });

  it('when the footer flag is set, then the footer is counted', () => {
    const tag = behindId3('', 1_000);
    tag[5] = 0x10;
    expect(id3v2TagLength(tag)).toBe(1_010);
  });

  it('when the size is not syncsafe or the bytes are not a tag, then there is no tag', () => {
    const tag = behindId3('', 1_000);
    tag[6] = 0x80;
    expect(id3v2TagLength(tag)).toBeUndefined();
    expect(id3v2TagLength(Buffer.from('ID3'))).toBeUndefined();
    expect(id3v2TagLength(mp4)).toBeUndefined();
  });
});

describe('inspectMediaHead', () => {
  it.each([
    ['an MP4', mp4, 'video/mp4'],
    ['a WAV', wav, 'audio/wav'],
    ['MP3 frames', mp3Frames, 'audio/mpeg'],
    ['MP3 frames behind a small ID3 tag', behindId3(mp3Frames, 2_000), 'audio/mpeg'],
    ['MP3 frames behind a 300 KiB ID3 tag (cover art)', behindId3(mp3Frames, 300 * 1024), 'audio/mpeg'],
    ['MP3 frames behind two ID3 tags', behindId3(behindId3(mp3Frames, 5_000), 9_000), 'audio/mpeg'],
  ])('when the file is %s, then it is media', async (_label, file, mimeType) => {
    expect((await inspectFile(file)).verdict).toEqual({ kind: 'media', mimeType });
  });

  it.each([
    ['a live HLS playlist with a data: segment behind a 256 KiB ID3 tag', behindId3(liveHls), 'an HLS playlist'],
    ['an HLS playlist behind a small ID3 tag', behindId3(localHls, 100), 'an HLS playlist'],
    ['an HLS playlist behind two ID3 tags', behindId3(behindId3(localHls, 3_000), 200_000), 'an HLS playlist'],
    ['an HLS playlist behind a RIFF header', behindRiff(localHls), 'text behind a RIFF header'],
    ['a DASH manifest behind an ID3 tag', behindId3(dash), 'a DASH manifest'],
    ['a DASH manifest behind a RIFF header', behindRiff(dash), 'a DASH manifest'],
    ['an ffconcat list behind an ID3 tag', behindId3(concat), 'an ffconcat list'],
    ['an ffconcat list behind a RIFF header', behindRiff(concat), 'text behind a RIFF header'],
    ['plain text behind an ID3 tag', behindId3('just some words\n'), 'text behind an ID3 tag'],
    ['UTF-8 text behind an ID3 tag', behindId3('# плейлист ✓\nfile.ts\n'), 'text behind an ID3 tag'],
    [
      'an IMF composition playlist behind an ID3 tag',
      behindId3('<?xml version="1.0"?><CompositionPlaylist><ContentTitle>x</ContentTitle>'),
      'an IMF composition playlist',
    ],
    ['a bare HLS playlist', Buffer.from(liveHls), 'an HLS playlist'],
    ['plain text', Buffer.from('hello, world\n'.repeat(500)), 'neither a video nor an audio container'],
    ['random bytes', Buffer.from(Array.from({ length: 5_000 }, (_, i) => (i * 7919) % 251)), 'neither a video nor an audio container'],
  ])('when the file is %s, then it is refused as %s', async (_label, file, reason) => {
    expect((await inspectFile(file)).verdict).toEqual({ kind: 'not-media', reason });
  });

  it('when a playlist hides behind an ID3 tag, then only the tag and a sample behind it are read', async () => {
    const { bytesRead } = await inspectFile(behindId3(liveHls, 256 * 1024));
    expect(bytesRead).toBeLessThanOrEqual(256 * 1024 + 4_096 + liveHls.length);
  });

  it('when the ID3 tag runs past MEDIA_HEAD_MAX_BYTES, then the check stops there and leaves the rest to the converter', async () => {
    const { verdict, bytesRead } = await inspectFile(behindId3(liveHls, MEDIA_HEAD_MAX_BYTES + 10));
    expect(bytesRead).toBe(MEDIA_HEAD_MAX_BYTES);
    expect(verdict).toEqual({ kind: 'media', mimeType: 'audio/mpeg' });
  });

  it('when the file is only an ID3 tag, then it is judged on what there is', async () => {
    expect((await inspectFile(behindId3('', 20_000))).verdict.kind).not.toBe('need-more');
  });
});

describe('looksLikeText', () => {
  it('when a sample ends inside a multi-byte character, then it still reads as text', () => {
    const text = Buffer.from('ab✓');
    expect(looksLikeText(text.subarray(0, text.length - 1), false)).toBe(true);
    expect(looksLikeText(text.subarray(0, text.length - 1), true)).toBe(false);
  });

  it('when there are control characters, NUL bytes or invalid UTF-8, then it is not text', () => {
    expect(looksLikeText(Buffer.from('abc\x01def'), true)).toBe(false);
    expect(looksLikeText(Buffer.from('abc\0def'), true)).toBe(false);
    expect(looksLikeText(Buffer.from([0xff, 0xfb, 0x90, 0x64]), true)).toBe(false);
    expect(looksLikeText(Buffer.alloc(0), true)).toBe(false);
  });
});
