import type { FailureMessage, Mp3Message } from '@mp3converter/shared/contracts';

export interface Email {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per notification, so a resend is recognisably the same email. */
  messageId: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The original's email, with how to download added. The first line is the original's, word for word. */
export function mp3ReadyEmail(message: Mp3Message, gatewayUrl: string): Email {
  const base = gatewayUrl.replace(/\/+$/, '');
  const downloadUrl = `${base}/download?fid=${message.mp3_fid}`;
  const curl = `curl --output audio.mp3 -H "Authorization: Bearer <your token>" "${downloadUrl}"`;
  const login = `curl -X POST -u ${message.username}:<password> ${base}/login`;
  return {
    to: message.username,
    subject: 'MP3 Download',
    messageId: `<mp3-${message.mp3_fid}@mp3converter>`,
    text: [`mp3 file_id: ${message.mp3_fid} is now ready!`, '', 'Download it with a token from /login:', '', `  ${login}`, `  ${curl}`, ''].join('\n'),
    html: [
      '<!doctype html><html><body style="font-family: sans-serif">',
      `<p>mp3 file_id: <b>${escapeHtml(message.mp3_fid)}</b> is now ready!</p>`,
      '<p>Download it with a token from <code>/login</code>:</p>',
      `<pre>${escapeHtml(login)}\n${escapeHtml(curl)}</pre>`,
      '</body></html>',
    ].join('\n'),
  };
}

export function conversionFailedEmail(message: FailureMessage): Email {
  const name = message.filename ? `"${message.filename}"` : `video ${message.video_fid}`;
  return {
    to: message.username,
    subject: 'MP3 Download failed',
    messageId: `<failed-${message.video_fid}@mp3converter>`,
    text: [`Your upload ${name} could not be converted to MP3: ${message.reason}.`, '', `video file_id: ${message.video_fid}`, ''].join('\n'),
    html: [
      '<!doctype html><html><body style="font-family: sans-serif">',
      `<p>Your upload ${escapeHtml(name)} could not be converted to MP3: <b>${escapeHtml(message.reason)}</b>.</p>`,
      `<p>video file_id: ${escapeHtml(message.video_fid)}</p>`,
      '</body></html>',
    ].join('\n'),
  };
}
