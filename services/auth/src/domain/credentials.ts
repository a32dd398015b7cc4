import { type LoginBody, loginBodySchema } from '@mp3converter/shared/contracts';

/** Credentials a client presented, before any check against the store. */
export type Credentials = LoginBody;

/** Longest email (the column's size) and password we spend a hash on; longer input is refused outright. */
export const MAX_EMAIL_LENGTH = 255;
export const MAX_PASSWORD_BYTES = 1024;

/**
 * Reads `Authorization: Basic base64(email:password)`. Returns undefined for anything else: another scheme,
 * broken base64, no colon. The password may contain colons; the email may not (RFC 7617).
 */
export function parseBasicAuthorization(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!match?.[1] || match[1].length % 4 === 1) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { email: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Reads a JSON body `{"email": "...", "password": "..."}`, as one of the original READMEs documents. */
export function parseJsonCredentials(body: unknown): Credentials | undefined {
  const parsed = loginBodySchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/** Reads `Authorization: Bearer <token>`; the scheme word is case-insensitive, anything else is undefined. */
export function parseBearerAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.=+/]+)[ ]*$/i.exec(header);
  return match?.[1];
}

/** Emails are matched case-insensitively: stored and looked up trimmed and lower-cased. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();
