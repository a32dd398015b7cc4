/**
 * API keys: long-lived bearer credentials for scripts, each limited to some scopes. Free of zod and drivers,
 * so that the page and the CLI read the same rules as auth and the gateway (the request and answer schemas
 * are in `api-key-schemas.ts`).
 *
 * A key reads `mp3c_<id>_<secret>`: the prefix lets secret scanners recognise a leaked one; the id (16 of
 * [0-9a-z], public: lists and logs show it) finds the key; the secret (40 of [0-9A-Za-z], 238 bits) proves it,
 * and is stored only as its SHA-256.
 */

/** What a key may do. Each gateway route that takes a key names the one scope it needs. */
export const API_KEY_SCOPES = ['upload', 'read', 'delete'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export const isApiKeyScope = (value: unknown): value is ApiKeyScope => (API_KEY_SCOPES as readonly unknown[]).includes(value);

export const API_KEY_PREFIX = 'mp3c_';
export const API_KEY_ID_LENGTH = 16;
export const API_KEY_SECRET_LENGTH = 40;

export const API_KEY_ID_PATTERN = /^[0-9a-z]{16}$/;
const KEY_PATTERN = /^mp3c_([0-9a-z]{16})_([0-9A-Za-z]{40})$/;

/** A bearer credential that is meant as an API key (well-formed or not), rather than a login token (a JWT). */
export const isApiKeyLike = (token: string): boolean => token.startsWith(API_KEY_PREFIX);

/** The id and secret of a well-formed key; undefined for anything else. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(key);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/** A key's name: what its owner calls it, shown in lists. At most this many characters (UTF-16 units). */
export const MAX_API_KEY_NAME_LENGTH = 100;

/**
 * Characters a name may not hold: control characters, line and paragraph separators, and the bidirectional
 * controls that could make a name print as another in a terminal or a page.
 */
/** Half of a UTF-16 pair alone, which JSON may carry (`"\\ud800"`) but no database column can store. */
const LONE_SURROGATE = /\p{Cs}/u;
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Why a (trimmed) name cannot be a key's name, or undefined when it can. */
export function apiKeyNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_API_KEY_NAME_LENGTH) return `must be at most ${MAX_API_KEY_NAME_LENGTH} characters`;
  if (LONE_SURROGATE.test(name)) return 'must be valid Unicode';
  if (FORBIDDEN_IN_NAME.test(name)) return 'must not contain control or bidirectional characters';
  return undefined;
}

/** The longest expiry a key may be given, from its creation: ten years (leave it out for a key that never expires). */
export const MAX_API_KEY_LIFETIME_MS = 10 * 365 * 86_400_000;
/** The shortest: a minute, so that no key is born expired. */
export const MIN_API_KEY_LIFETIME_MS = 60_000;
