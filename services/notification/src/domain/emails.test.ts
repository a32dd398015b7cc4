import { describe, expect, it } from 'vitest';
import { conversionFailedEmail, mp3ReadyEmail } from './emails.js';

const message = { video_fid: '65f0c0ffee00112233445566', mp3_fid: '65f0c0ff0123456789abcdef', username: 'georgio@email.com' };

const link = { url: 'http://mp3converter.com/download?fid=65f0c0ff0123456789abcdef&expires=1&sig=abc', expiresAt: new Date('2026-12-01T10:00:00Z') };
const parts = { gatewayUrl: 'http://mp3converter.com/', link };

describe('mp3ReadyEmail', () => {
  it("when built, then its first line is the original's", () => {
    const email = mp3ReadyEmail(message, parts);
    expect(email.text.split('\n')[0]).toBe('mp3 file_id: 65f0c0ff0123456789abcdef is now ready!');
    expect(email.subject).toBe('MP3 Download');
    expect(email.to).toBe('georgio@email.com');
    expect(email.text).toContain('"http://mp3converter.com/download?fid=65f0c0ff0123456789abcdef"');
  });

  it('when the address has HTML in it, then the HTML part escapes it', () => {
    const email = mp3ReadyEmail({ ...message, username: '<b>x</b>@y.z' }, parts);
    expect(email.html).not.toContain('<b>x</b>');
  });

  it('when the file is known, then the email names it with its length and size, carries the link in text and HTML, and says until when', () => {
    const file = {
      filename: 'talk.mp3',
      sizeBytes: 3 * 1024 ** 2,
      durationSeconds: 125,
      owner: 'georgio@email.com',
      expiresAt: new Date('2026-12-01T10:00:00Z'),
    };
    const email = mp3ReadyEmail(message, { ...parts, file });
    expect(email.text).toContain('talk.mp3 (2 min 5 s, 3 MiB)');
    expect(email.text).toContain(`  ${link.url}`);
    expect(email.text).toContain('until 2026-12-01 10:00 UTC');
    expect(email.html).toContain(`<a href="${link.url.replace(/&/g, '&amp;')}">`);
  });
});

describe('mp3ReadyEmail for a job split by chapters', () => {
  const zipLink = { url: 'http://mp3converter.com/download.zip?fid=65f0c0ffee00112233445566&expires=1&sig=abc', expiresAt: new Date('2026-12-01T10:00:00Z') };
  const split = { ...message, mp3_fids: [message.mp3_fid, '65f0c0ff0123456789abcd01', '65f0c0ff0123456789abcd02'] };

  it('when the job made several MP3s, then the email says how many and links the ZIP of all of them, signed, and by token', () => {
    const email = mp3ReadyEmail(split, { gatewayUrl: 'http://mp3converter.com/', link: zipLink });
    expect(email.subject).toBe('MP3 Download');
    expect(email.text.split('\n')[0]).toBe('3 MP3s, one per chapter, are now ready!');
    expect(email.text).toContain(`  ${zipLink.url}`);
    expect(email.text).toContain('"http://mp3converter.com/download.zip?fid=65f0c0ffee00112233445566"');
    expect(email.text).toContain('--output audio.zip');
    expect(email.html).toContain(`<a href="${zipLink.url.replace(/&/g, '&amp;')}">Download the 3 MP3s as one ZIP</a>`);
    expect(email.messageId).toBe(`<mp3-${message.mp3_fid}@mp3converter>`);
  });
});

it('conversionFailedEmail names the file and the reason', () => {
  const email = conversionFailedEmail({ ...message, mp3_fid: null, status: 'failed', reason: 'the video has no audio track', filename: 'clip.mp4' });
  expect(email.text).toContain('"clip.mp4" could not be converted to MP3: the video has no audio track.');
});
