import { describe, expect, it } from 'vitest';
import { mp3FilenameFor, mp3IdFor, mp3PartIdFor } from './mp3-id.js';

describe('mp3IdFor', () => {
  const video = '65f0c0ffee00112233445566';

  it('when asked twice for one video, then the same 24-hex id, different from the video id', () => {
    expect(mp3IdFor(video)).toBe(mp3IdFor(video));
    expect(mp3IdFor(video)).toMatch(/^[0-9a-f]{24}$/);
    expect(mp3IdFor(video)).not.toBe(video);
  });

  it('when the video id differs, then the mp3 id differs, keeping its timestamp', () => {
    const other = '65f0c0ffee00112233445567';
    expect(mp3IdFor(other)).not.toBe(mp3IdFor(video));
    expect(mp3IdFor(video).slice(0, 8)).toBe(video.slice(0, 8));
  });
});

describe('mp3PartIdFor', () => {
  const video = '65f0c0ffee00112233445566';

  it('when asked for the parts of one video, then each has an id of its own, the same every time, none the video’s or its MP3’s', () => {
    const ids = Array.from({ length: 999 }, (_, i) => mp3PartIdFor(video, i + 1));
    expect(new Set([...ids, video, mp3IdFor(video)]).size).toBe(1001);
    expect(mp3PartIdFor(video.toUpperCase(), 7)).toBe(ids[6]);
    for (const id of ids) expect(id).toMatch(/^65f0c0ff[0-9a-f]{16}$/);
  });

  it('when the number is not a part’s, then no id', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) expect(() => mp3PartIdFor(video, n)).toThrow(RangeError);
  });
});

describe('mp3FilenameFor', () => {
  it.each([
    ['holiday clip.mp4', 'holiday clip.mp3'],
    ['a.b.mkv', 'a.b.mp3'],
    ['noext', 'noext.mp3'],
    ['../../etc/passwd.mp4', '.._.._etc_passwd.mp3'],
    ['видео – тест ✓.mp4', 'видео – тест ✓.mp3'],
    ['影片 🎬 «final».MKV', '影片 🎬 «final».mp3'],
    ['it\'s "live".mov', 'it\'s "live".mp3'],
    ['line\r\nbreak\t.mp4', 'linebreak.mp3'],
    ['clip\u202e4pm.exe.mp4', 'clip4pm.exe.mp3'],
    ['C:\\Videos\\x.avi', 'C:_Videos_x.mp3'],
  ])('when the video is %j, then the mp3 is %j', (name, expected) => {
    expect(mp3FilenameFor(name, 'x')).toBe(expected);
  });

  it('when the name is longer than a file system takes, then it is cut between characters to 255 bytes with .mp3', () => {
    const name = mp3FilenameFor(`${'ж'.repeat(300)}.mp4`, 'x');
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toBe(`${'ж'.repeat(125)}.mp3`);
  });

  it('when the name is only what is taken out, then <fid>.mp3', () => {
    expect(mp3FilenameFor('\u0000\u202e.mp4', '65f0c0ffee00112233445566')).toBe('65f0c0ffee00112233445566.mp3');
  });

  it('when the video has no name, as in the original, then <fid>.mp3', () => {
    expect(mp3FilenameFor(null, '65f0c0ffee00112233445566')).toBe('65f0c0ffee00112233445566.mp3');
  });
});
