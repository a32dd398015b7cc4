import { createHmac, randomBytes } from 'node:crypto';

/**
 * Signatures as the Standard Webhooks specification (https://www.standardwebhooks.com/) gives them, so
 * receivers can check them with its libraries: the secret is `whsec_` and base64 of random bytes; each
 * attempt carries `webhook-id` (the same on every attempt of one message), `webhook-timestamp` (Unix
 * seconds, of this attempt) and `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">`, one per secret in use: two while a rotated secret's overlap lasts.
 */

export const SECRET_PREFIX = 'whsec_';
/** Random bytes of a signing secret (the specification asks for 24 to 64). */
const SECRET_BYTES = 32;

export const newSigningSecret = (): string => `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;

const keyOf = (secret: string): Buffer => Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');

export const signatureOf = (secret: string, id: string, timestampSeconds: number, body: string): string =>
  `v1,${createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of one attempt, signed with every secret given (the current one first). */
export function signedHeaders(secrets: readonly string[], id: string, body: string, now = new Date()): SignedHeaders {
  if (secrets.length === 0) throw new Error('no signing secret');
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signatureOf(s, id, timestamp, body)).join(' '),
  };
}
