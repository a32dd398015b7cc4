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
 * lines with a token stay for scripts. A job split by chapters into several MP3s (`mp3_fids`) gets one
 * email for all of them, linking the ZIP of all of them (the gateway's `/download.zip`); the original's line
 * names one MP3, so it is not used there.
 */
export function mp3ReadyEmail(message: Mp3Message, { gatewayUrl, link, file }: ReadyEmailParts): Email {
  const base = gatewayUrl.replace(/\/+$/, '');
  const count = message.mp3_fids?.length ?? 1;
  if (count > 1) {
    const ready = `${count} MP3s, one per chapter, are now ready!`;
    return readyEmail(message, link, {
      headline: { text: ready, html: escapeHtml(ready) },
      about: [`video file_id: ${message.video_fid}`],
      download: { text: 'Download them all as one ZIP', html: `Download the ${count} MP3s as one ZIP` },
      removal: undefined,
      curl: `curl --output audio.zip -H "Authorization: Bearer <your token>" "${base}/download.zip?fid=${message.video_fid}"`,
      login: `curl -X POST -u ${message.username}:<password> ${base}/login`,
    });
  }
  const about = file
    ? `${file.filename} (${[file.durationSeconds === null ? undefined : formatDuration(file.durationSeconds), formatBytes(file.sizeBytes)].filter(Boolean).join(', ')})`
    : undefined;
  return readyEmail(message, link, {
    headline: { text: `mp3 file_id: ${message.mp3_fid} is now ready!`, html: `mp3 file_id: <b>${escapeHtml(message.mp3_fid)}</b> is now ready!` },
    about: about ? [about] : [],
    download: { text: 'Download it', html: 'Download the MP3' },
    removal: file?.expiresAt ? `The MP3 is kept until ${day(file.expiresAt)}, then removed.` : undefined,
    curl: `curl --output audio.mp3 -H "Authorization: Bearer <your token>" "${base}/download?fid=${message.mp3_fid}"`,
    login: `curl -X POST -u ${message.username}:<password> ${base}/login`,
  });
}

/** What a ready email says, in its order; `headline.html` is markup, everything else text. */
interface ReadyContent {
  headline: { text: string; html: string };
  about: string[];
  download: { text: string; html: string };
  removal: string | undefined;
  login: string;
  curl: string;
}

function readyEmail(message: Mp3Message, link: ReadyEmailParts['link'], c: ReadyContent): Email {
  const until = day(link.expiresAt);
  return {
    to: message.username,
    subject: 'MP3 Download',
    messageId: `<mp3-${message.mp3_fid}@mp3converter>`,
    text: [
      c.headline.text,
      '',
      ...c.about.flatMap((line) => [line, '']),
      `${c.download.text} (no login needed; the link works until ${until}):`,
      '',
      `  ${link.url}`,
      '',
      ...(c.removal ? [c.removal, ''] : []),
      'Or with a token from /login:',
      '',
      `  ${c.login}`,
      `  ${c.curl}`,
      '',
    ].join('\n'),
    html: [
      '<!doctype html><html><body style="font-family: sans-serif">',
      `<p>${c.headline.html}</p>`,
      ...c.about.map((line) => `<p>${escapeHtml(line)}</p>`),
      `<p><a href="${escapeHtml(link.url)}">${escapeHtml(c.download.html)}</a> (no login needed; the link works until ${escapeHtml(until)}).</p>`,
      ...(c.removal ? [`<p>${escapeHtml(c.removal)}</p>`] : []),
      '<p>Or with a token from <code>/login</code>:</p>',
      `<pre>${escapeHtml(c.login)}\n${escapeHtml(c.curl)}</pre>`,
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
