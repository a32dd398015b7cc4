import type { FailureMessage, Mp3Message } from '@mp3converter/shared/contracts';
import { formatBytes, formatDuration } from '@mp3converter/shared/units';

export interface Email {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per notification, so a resend is recognisably the same email. */
  messageId: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** What the store knows of the MP3; nothing for a message whose MP3 is not one of ours. */
export interface Mp3File {
  filename: string;
  sizeBytes: number;
  durationSeconds: number | null;
  owner: string | null;
  /** The video it was made from; null on files stored before it was recorded. */
  videoFid?: string | null;
  /** When it will be removed. */
  expiresAt: Date | null;
}

export interface ReadyEmailParts {
  gatewayUrl: string;
  /** A signed link that works without a token, and when it stops working. */
  link: { url: string; expiresAt: Date };
  file?: Mp3File | undefined;
}

const day = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The original's email (its subject and first line, word for word), then what a person on a phone needs: the
 * file's name, length and size, a link that downloads it in a browser with no token, and until when; the curl
 * lines with a token stay for scripts.
 */
export function mp3ReadyEmail(message: Mp3Message, { gatewayUrl, link, file }: ReadyEmailParts): Email {
  if (message.mp3_fids && message.mp3_fids.length > 1) return splitReadyEmail(message, message.mp3_fids.length, { gatewayUrl, link });
  const base = gatewayUrl.replace(/\/+$/, '');
  const curl = `curl --output audio.mp3 -H "Authorization: Bearer <your token>" "${base}/download?fid=${message.mp3_fid}"`;
  const login = `curl -X POST -u ${message.username}:<password> ${base}/login`;
  const about = file
    ? `${file.filename} (${[file.durationSeconds === null ? undefined : formatDuration(file.durationSeconds), formatBytes(file.sizeBytes)].filter(Boolean).join(', ')})`
    : undefined;
  const until = day(link.expiresAt);
  const removal = file?.expiresAt ? `The MP3 is kept until ${day(file.expiresAt)}, then removed.` : undefined;
  return {
    to: message.username,
    subject: 'MP3 Download',
    messageId: `<mp3-${message.mp3_fid}@mp3converter>`,
    text: [
      `mp3 file_id: ${message.mp3_fid} is now ready!`,
      '',
      ...(about ? [about, ''] : []),
      `Download it (no login needed; the link works until ${until}):`,
      '',
      `  ${link.url}`,
      '',
      ...(removal ? [removal, ''] : []),
      ...withToken(login, curl).text,
    ].join('\n'),
    html: [
      '<!doctype html><html><body style="font-family: sans-serif">',
      `<p>mp3 file_id: <b>${escapeHtml(message.mp3_fid)}</b> is now ready!</p>`,
      ...(about ? [`<p>${escapeHtml(about)}</p>`] : []),
      `<p><a href="${escapeHtml(link.url)}">Download the MP3</a> (no login needed; the link works until ${escapeHtml(until)}).</p>`,
      ...(removal ? [`<p>${escapeHtml(removal)}</p>`] : []),
      ...withToken(login, curl).html,
      '</body></html>',
    ].join('\n'),
  };
}

/**
 * The email for a job split by chapters into `count` MP3s: one link, signed, to the ZIP of all of them (the
 * gateway's `/download.zip`), and the curl lines for it; the original's line names one MP3, so it is not used.
 */
function splitReadyEmail(message: Mp3Message, count: number, { gatewayUrl, link }: Omit<ReadyEmailParts, 'file'>): Email {
  const base = gatewayUrl.replace(/\/+$/, '');
  const curl = `curl --output audio.zip -H "Authorization: Bearer <your token>" "${base}/download.zip?fid=${message.video_fid}"`;
  const login = `curl -X POST -u ${message.username}:<password> ${base}/login`;
  const until = day(link.expiresAt);
  const ready = `${count} MP3s, one per chapter, are now ready!`;
  return {
    to: message.username,
    subject: 'MP3 Download',
    messageId: `<mp3-${message.mp3_fid}@mp3converter>`,
    text: [
      ready,
      '',
      `video file_id: ${message.video_fid}`,
      '',
      `Download them all as one ZIP (no login needed; the link works until ${until}):`,
      '',
      `  ${link.url}`,
      '',
      ...withToken(login, curl).text,
    ].join('\n'),
    html: [
      '<!doctype html><html><body style="font-family: sans-serif">',
      `<p>${escapeHtml(ready)}</p>`,
      `<p>video file_id: ${escapeHtml(message.video_fid)}</p>`,
      `<p><a href="${escapeHtml(link.url)}">Download the ${count} MP3s as one ZIP</a> (no login needed; the link works until ${escapeHtml(until)}).</p>`,
      ...withToken(login, curl).html,
      '</body></html>',
    ].join('\n'),
  };
}

/** The end of a ready email: the same download with a token from /login, as text lines and as HTML. */
function withToken(login: string, curl: string): { text: string[]; html: string[] } {
  return {
    text: ['Or with a token from /login:', '', `  ${login}`, `  ${curl}`, ''],
    html: ['<p>Or with a token from <code>/login</code>:</p>', `<pre>${escapeHtml(login)}\n${escapeHtml(curl)}</pre>`],
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
