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

/**
 * A link to one ZIP of several jobs' MP3s: `/download.zip?fid=<video>&fid=<video>…&expires=…&sig=…`, signed
 * over the jobs' ids in their order, their owner and the expiry. Its payload starts apart from a single
 * MP3's (`zip:`, `mp3:`), so neither signature can stand for the other.
 */
export interface SignedZipLink {
  videoFids: readonly string[];
  owner: string;
  /** Epoch seconds. */
  expires: number;
}

const payloadOf = ({ mp3Fid, owner, expires }: SignedLink): string => `mp3:${mp3Fid.toLowerCase()}\n${owner}\n${expires}`;
/** The ids as a JSON array: no two lists of ids read the same (a comma joining them would). */
const zipPayloadOf = ({ videoFids, owner, expires }: SignedZipLink): string =>
  `zip:${JSON.stringify(videoFids.map((fid) => fid.toLowerCase()))}\n${owner}\n${expires}`;

const hmac = (payload: string, secret: string): string => createHmac('sha256', secret).update(payload).digest('base64url');

export function signatureOf(link: SignedLink, secret: string): string {
  return hmac(payloadOf(link), secret);
}

export function zipSignatureOf(link: SignedZipLink, secret: string): string {
  return hmac(zipPayloadOf(link), secret);
}

/** The link's path and query, to put after the public address of the gateway. */
export function signedDownloadPath(link: SignedLink, secret: string): string {
  return `/download?fid=${link.mp3Fid}&expires=${link.expires}&sig=${signatureOf(link, secret)}`;
}

/** The ZIP link's path and query: the jobs' ids in the order given, which is the order of the ZIP's entries. */
export function signedZipPath(link: SignedZipLink, secret: string): string {
  const fids = link.videoFids.map((fid) => `fid=${fid}`).join('&');
  return `/download.zip?${fids}&expires=${link.expires}&sig=${zipSignatureOf(link, secret)}`;
}

export type LinkCheck = 'valid' | 'expired' | 'invalid';

function check(expectedSignature: string, signature: string, expires: number, now: number): LinkCheck {
  const expected = Buffer.from(expectedSignature);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return expires * 1000 <= now ? 'expired' : 'valid';
}

/** Compares in constant time; an altered id, owner or expiry is `invalid`, an honest old link `expired`. */
export function checkSignedLink(link: SignedLink, signature: string, secret: string, now = Date.now()): LinkCheck {
  return check(signatureOf(link, secret), signature, link.expires, now);
}

/** The same for a ZIP link: another id, one more or one less, or another order, is `invalid`. */
export function checkSignedZipLink(link: SignedZipLink, signature: string, secret: string, now = Date.now()): LinkCheck {
  return check(zipSignatureOf(link, secret), signature, link.expires, now);
}
