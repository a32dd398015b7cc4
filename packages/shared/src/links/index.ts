import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Download links that work from an email, in a browser, with no token: `/download?fid=<mp3>&expires=<unix
 * seconds>&sig=<HMAC>`. The signature is an HMAC-SHA256, with a secret of their own (never JWT_SECRET), over
 * the MP3's id, its owner and the expiry, so a link names one file of one user until one time. A link keeps
 * working until it expires, however often it is opened: mail scanners open links, single-use ones would break.
 */
export interface SignedLink {
  mp3Fid: string;
  owner: string;
  /** Epoch seconds. */
  expires: number;
}

const payloadOf = ({ mp3Fid, owner, expires }: SignedLink): string => `mp3:${mp3Fid.toLowerCase()}\n${owner}\n${expires}`;

export function signatureOf(link: SignedLink, secret: string): string {
  return createHmac('sha256', secret).update(payloadOf(link)).digest('base64url');
}

/** The link's path and query, to put after the public address of the gateway. */
export function signedDownloadPath(link: SignedLink, secret: string): string {
  return `/download?fid=${link.mp3Fid}&expires=${link.expires}&sig=${signatureOf(link, secret)}`;
}

export type LinkCheck = 'valid' | 'expired' | 'invalid';

/** Compares in constant time; an altered id, owner or expiry is `invalid`, an honest old link `expired`. */
export function checkSignedLink(link: SignedLink, signature: string, secret: string, now = Date.now()): LinkCheck {
  const expected = Buffer.from(signatureOf(link, secret));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return link.expires * 1000 <= now ? 'expired' : 'valid';
}
