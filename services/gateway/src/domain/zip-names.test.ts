import { describe, expect, it } from 'vitest';
import { uniqueZipNames } from './zip-names.js';

/** What no extracted name may hold: a separator, a `..`, a control or bidirectional character, Windows' reserved ones. */
const UNSAFE = /[/\\<>:"|?*\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|\.\./u;

describe('ZIP entry names', () => {
  it('when names try to leave the folder, then each becomes a plain name inside it', () => {
    const hostile = [
      '../../etc/passwd.mp3',
      '..',
      '.',
      '/etc/cron.d/job.mp3',
      'C:\\Windows\\system32\\x.mp3',
      'C:evil.mp3',
      '..\\..\\boot.ini',
      'a/../../b.mp3',
      '~/.bashrc',
    ];
    const names = uniqueZipNames(hostile);
    for (const name of names) {
      expect(name).not.toMatch(UNSAFE);
      expect(name).not.toMatch(/^[.\s]/);
      expect(name).not.toBe('');
    }
    expect(names[0]).toBe('_._etc_passwd.mp3');
    expect(names[1]).toBe('audio');
    expect(names[3]).toBe('_etc_cron.d_job.mp3');
    expect(names[4]).toBe('C__Windows_system32_x.mp3');
    expect(names[8]).toBe('~_.bashrc');
  });

  it('when names hold control, bidirectional or line characters, then they go and the rest is kept', () => {
    const names = uniqueZipNames([
      'a\u0000b\u0007c.mp3',
      'clip\u202e3pm.exe.mp3',
      'line\nbreak\r.mp3',
      'para\u2029graph.mp3',
      'tab\there.mp3',
      'Ölçü 日本語 🎵.mp3',
    ]);
    expect(names).toEqual(['abc.mp3', 'clip3pm.exe.mp3', 'linebreak.mp3', 'para graph.mp3', 'tabhere.mp3', 'Ölçü 日本語 🎵.mp3']);
  });

  it("when a name is one of Windows' devices or reserved characters, then it is changed so that Windows can write it", () => {
    const names = uniqueZipNames(['CON.mp3', 'nul', 'com1.mp3', 'Lpt9.part.mp3', 'a<b>c:d"e|f?g*h.mp3', 'name. . .mp3', 'console.mp3']);
    expect(names).toEqual(['_CON.mp3', '_nul', '_com1.mp3', '_Lpt9.part.mp3', 'a_b_c_d_e_f_g_h.mp3', 'name.mp3', 'console.mp3']);
  });

  it('when two names differ only in case, or repeat, then the later ones are numbered, never taking a name given as is', () => {
    expect(uniqueZipNames(['talk.mp3', 'Talk.MP3', 'talk (2).mp3', 'talk.mp3', 'TALK.mp3'])).toEqual([
      'talk.mp3',
      'Talk (3).MP3',
      'talk (2).mp3',
      'talk (4).mp3',
      'TALK (5).mp3',
    ]);
  });

  it('when a name is too long, then it is cut between characters to 255 bytes, its number and extension kept', () => {
    const long = `${'é'.repeat(200)}.mp3`;
    const [first, second] = uniqueZipNames([long, long]);
    expect(Buffer.byteLength(first!)).toBeLessThanOrEqual(255);
    expect(Buffer.byteLength(second!)).toBeLessThanOrEqual(255);
    expect(first).toMatch(/^é+\.mp3$/);
    expect(second).toMatch(/^é+ \(2\)\.mp3$/);
  });

  it('when a name is empty or only dots and blanks, then it becomes audio, numbered if need be', () => {
    expect(uniqueZipNames(['', '   ', '...mp3', '.mp3'])).toEqual(['audio', 'audio (2)', 'audio.mp3', 'audio (2).mp3']);
  });

  it('when the same name comes 70,000 times, then every one is unique', () => {
    const names = uniqueZipNames(Array.from({ length: 70_000 }, () => 'part.mp3'));
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(70_000);
    expect(names.at(-1)).toBe('part (70000).mp3');
  });
});
