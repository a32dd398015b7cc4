import { describe, expect, it } from 'vitest';
import { conversionFailedEmail, mp3ReadyEmail } from './emails.js';

const message = { video_fid: '65f0c0ffee00112233445566', mp3_fid: '65f0c0ff0123456789abcdef', username: 'georgio@email.com' };

describe('mp3ReadyEmail', () => {
  it("when built, then its first line is the original's", () => {
    const email = mp3ReadyEmail(message, 'http://mp3converter.com/');
    expect(email.text.split('\n')[0]).toBe('mp3 file_id: 65f0c0ff0123456789abcdef is now ready!');
    expect(email.subject).toBe('MP3 Download');
    expect(email.to).toBe('georgio@email.com');
    expect(email.text).toContain('"http://mp3converter.com/download?fid=65f0c0ff0123456789abcdef"');
  });

  it('when the address has HTML in it, then the HTML part escapes it', () => {
    const email = mp3ReadyEmail({ ...message, username: '<b>x</b>@y.z' }, 'http://mp3converter.com');
    expect(email.html).not.toContain('<b>x</b>');
  });
});

it('conversionFailedEmail names the file and the reason', () => {
  const email = conversionFailedEmail({ ...message, mp3_fid: null, status: 'failed', reason: 'the video has no audio track', filename: 'clip.mp4' });
  expect(email.text).toContain('"clip.mp4" could not be converted to MP3: the video has no audio track.');
});
