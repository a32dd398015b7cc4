import { describe, expect, it } from 'vitest';
import { asciiFilename, portableFilename, safeFilename, truncateUtf8 } from './index.js';

describe('safeFilename', () => {
  it.each([
    ['видео – тест ✓.mp4', 'видео – тест ✓.mp4'],
    ['holiday clip.mp4', 'holiday clip.mp4'],
    ['emoji 👨‍👩‍👧 family.mp4', 'emoji 👨‍👩‍👧 family.mp4'],
    ['it\'s "quoted".mp4', 'it\'s "quoted".mp4'],
    ['../../etc/passwd', '.._.._etc_passwd'],
    ['C:\\Users\\me\\clip.mp4', 'C:_Users_me_clip.mp4'],
    ['tab\there\r\nnew\u0000line\u007f\u0085.mp4', 'tabherenewline.mp4'],
    ['clip\u202e4pm.exe', 'clip4pm.exe'],
    ['  spaced  ', 'spaced'],
  ])('when the name is %j, then it is kept as %j', (name, expected) => {
    expect(safeFilename(name)).toBe(expected);
  });

  it('when the name is decomposed (as macOS sends it), then it is stored composed', () => {
    expect(safeFilename('й.mp4'.normalize('NFD'))).toBe('й.mp4');
  });

  it('when the name is longer than 255 bytes of UTF-8, then it is cut between characters', () => {
    const cut = safeFilename('ж'.repeat(200));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(255);
    expect(cut).toBe('ж'.repeat(127));
  });
});

describe('truncateUtf8', () => {
  it('when a cut would split a character, then the whole character goes', () => {
    expect(truncateUtf8('a✓b', 3)).toBe('a');
    expect(truncateUtf8('a✓b', 4)).toBe('a✓');
    expect(truncateUtf8('😀x', 3)).toBe('');
  });
});

describe('asciiFilename', () => {
  it.each([
    ['holiday clip.mp3', 'holiday clip.mp3'],
    ['café crème.mp3', 'cafe creme.mp3'],
    ['a – b ✓.mp3', 'a - b _.mp3'],
    ['say "hi" \\ bye.mp3', 'say _hi_ _ bye.mp3'],
    ['видео – тест ✓.mp3', 'audio.mp3'],
    ['видео clip 2.mp3', '_ clip 2.mp3'],
  ])('when the name is %j, then the ASCII name is %j', (name, expected) => {
    expect(asciiFilename(name, 'audio.mp3')).toBe(expected);
  });
});

describe('portableFilename', () => {
  it.each([
    ['Chapter 1: The Start', 'Chapter 1_ The Start'],
    ['../../x', '_._x'],
    ['a<b>c:d"e|f?g*h', 'a_b_c_d_e_f_g_h'],
    ['...hidden', 'hidden'],
    ['ends with dots... ', 'ends with dots'],
    ['line\u2028break\u2029here', 'line break here'],
    ['tab\there\r\nnew\u0000line', 'tabherenewline'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['com1 ', '_com1'],
    ['Console', 'Console'],
    ['--help', '--help'],
    ['-i file:/etc/passwd', '-i file__etc_passwd'],
    ['....', ''],
  ])('when the name is %j, then it is %j', (name, expected) => {
    expect(portableFilename(name)).toBe(expected);
  });

  it('when the name is longer than the bytes allowed, then it is cut between characters and ends in no dot or blank', () => {
    const cut = portableFilename(`${'ж'.repeat(10)} .${'x'.repeat(300)}`, 22);
    expect(cut).toBe('ж'.repeat(10));
  });
});
