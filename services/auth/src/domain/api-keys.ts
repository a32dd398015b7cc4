import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { ApiKeyCreate, ApiKeyCreated, ApiKeyView } from '@mp3converter/shared/contracts';
import {
  API_KEY_ID_LENGTH,
  API_KEY_ID_PATTERN,
  API_KEY_PREFIX,
  API_KEY_SECRET_LENGTH,
  type ApiKeyScope,
  MAX_API_KEY_LIFETIME_MS,
  MIN_API_KEY_LIFETIME_MS,
  parseApiKey,
} from '@mp3converter/shared/contracts/api-keys';
import type { KeyUsage } from './key-usage.js';

export interface StoredApiKey {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export type KeyCreation = 'created' | 'limit_reached' | 'no_user' | 'id_taken';

export interface ApiKeyRepository {
  /** Adds the key unless its owner (by email) holds `maxPerUser` keys already; safe against creates at once. */
  create(owner: string, key: StoredApiKey & { secretHash: Buffer }, maxPerUser: number): Promise<KeyCreation>;
  /** The owner's keys, newest first. */
  list(owner: string): Promise<StoredApiKey[]>;
  /** False when the owner has no key by that id (someone else's included). */
  remove(owner: string, id: string): Promise<boolean>;
  /** The key by id with its hash and its owner's email, or undefined. */
  find(id: string): Promise<{ key: StoredApiKey; secretHash: Buffer; owner: string } | undefined>;
  /** Sets the key's last use to now, unless another replica did so within `notWithinMs`. */
  recordUse(id: string, notWithinMs: number): Promise<void>;
}

/** Who a key speaks for and what it may do: what /validate answers for it. */
export interface KeyClaims {
  username: string;
  keyId: string;
  scopes: ApiKeyScope[];
  /** Creation, epoch seconds. */
  iat: number;
  /** Expiry, epoch seconds; none for a key that never expires. */
  exp?: number;
}

export class InvalidApiKeyError extends Error {
  constructor(message = 'invalid API key') {
    super(message);
    this.name = 'InvalidApiKeyError';
  }
}

export class ApiKeyLimitError extends Error {
  constructor(readonly limit: number) {
    super(`you hold ${limit} API keys, the most allowed: revoke one first`);
    this.name = 'ApiKeyLimitError';
  }
}

export class ApiKeyExpiryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeyExpiryError';
  }
}

export class ApiKeyRateLimitedError extends Error {
  constructor(readonly retryAfterMs: number) {
    super('too many requests with this API key');
    this.name = 'ApiKeyRateLimitedError';
  }
}

/** The user a login token named is gone. */
export class UnknownOwnerError extends Error {
  constructor() {
    super('no such user');
    this.name = 'UnknownOwnerError';
  }
}

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const SECRET_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomText = (alphabet: string, length: number) => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');

/** SHA-256 is the right hash here: the secret is 238 random bits, nothing a slow hash would need to stretch. */
const hashOf = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export interface ApiKeyPolicy {
  maxPerUser: number;
  /** A key's last use is written at most this often per replica; the store skips writes closer than this. */
  recordEveryMs: number;
}

/**
 * API keys: created and revoked by their owner (with a login token, never with a key), checked on every
 * request that carries one. A key is found by its public id and proven by its secret, compared in constant
 * time against the stored SHA-256 (or, for an unknown id, against a decoy), so neither the compare nor a
 * missing row tells how much of a guess was right.
 */
export class ApiKeyService {
  private readonly decoy = randomBytes(32);

  private readonly onRecordFailure: (err: unknown) => void;
  private readonly now: () => number;
  private readonly equal: (a: Buffer, b: Buffer) => boolean;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly usage: KeyUsage,
    private readonly policy: ApiKeyPolicy,
    options: {
      /** A last use that could not be written: reported, never failing the request. */
      onRecordFailure: (err: unknown) => void;
      now?: () => number;
      /** How hashes are compared: in constant time (the tests watch it). */
      equal?: (a: Buffer, b: Buffer) => boolean;
    },
  ) {
    this.onRecordFailure = options.onRecordFailure;
    this.now = options.now ?? Date.now;
    this.equal = options.equal ?? timingSafeEqual;
  }

  get maxPerUser(): number {
    return this.policy.maxPerUser;
  }

  async create(owner: string, request: ApiKeyCreate): Promise<ApiKeyCreated> {
    const createdAt = new Date(this.now());
    const expiresAt = this.expiryOf(request.expires_at ?? null, createdAt);
    for (let attempt = 1; ; attempt++) {
      const id = randomText(ID_ALPHABET, API_KEY_ID_LENGTH);
      const key = `${API_KEY_PREFIX}${id}_${randomText(SECRET_ALPHABET, API_KEY_SECRET_LENGTH)}`;
      const stored: StoredApiKey = { id, name: request.name, scopes: request.scopes, createdAt, expiresAt, lastUsedAt: null };
      const outcome = await this.keys.create(owner, { ...stored, secretHash: hashOf(key) }, this.policy.maxPerUser);
      if (outcome === 'created') return { ...this.view(stored), key };
      if (outcome === 'limit_reached') throw new ApiKeyLimitError(this.policy.maxPerUser);
      if (outcome === 'no_user') throw new UnknownOwnerError();
      // Two ids alike out of 36^16: draw again, a few times at most.
      if (attempt >= 3) throw new Error('could not draw an unused key id');
    }
  }

  async list(owner: string): Promise<ApiKeyView[]> {
    return (await this.keys.list(owner)).map((key) => this.view(key));
  }

  /** False for an id the owner has no key by: malformed, unknown, someone else's, already revoked. */
  async revoke(owner: string, id: string): Promise<boolean> {
    if (!API_KEY_ID_PATTERN.test(id)) return false;
    const removed = await this.keys.remove(owner, id);
    if (removed) this.usage.forget(id);
    return removed;
  }

  /** The claims of a valid key; InvalidApiKeyError or ApiKeyRateLimitedError otherwise. */
  async verify(presented: string): Promise<KeyClaims> {
    const parsed = parseApiKey(presented);
    if (!parsed) throw new InvalidApiKeyError('malformed API key');
    const found = await this.keys.find(parsed.id);
    // Compared whether or not the id exists, so both refusals cost the same.
    const matches = this.equal(hashOf(presented), found?.secretHash ?? this.decoy);
    if (!found || !matches) throw new InvalidApiKeyError();
    const { key, owner } = found;
    if (key.expiresAt && key.expiresAt.getTime() <= this.now()) {
      throw new InvalidApiKeyError(`this API key expired on ${key.expiresAt.toISOString()}`);
    }
    const admission = this.usage.admit(key.id);
    if (!admission.allowed) throw new ApiKeyRateLimitedError(admission.retryAfterMs);
    if (admission.record) this.keys.recordUse(key.id, this.policy.recordEveryMs).catch(this.onRecordFailure);
    return {
      username: owner,
      keyId: key.id,
      scopes: key.scopes,
      iat: seconds(key.createdAt),
      ...(key.expiresAt ? { exp: seconds(key.expiresAt) } : {}),
    };
  }

  private expiryOf(requested: string | null, createdAt: Date): Date | null {
    if (requested === null) return null;
    const at = new Date(requested);
    const ahead = at.getTime() - createdAt.getTime();
    if (!(ahead >= MIN_API_KEY_LIFETIME_MS)) throw new ApiKeyExpiryError('expires_at must be at least a minute from now');
    if (ahead > MAX_API_KEY_LIFETIME_MS) throw new ApiKeyExpiryError('expires_at must be at most ten years from now');
    return at;
  }

  private view(key: StoredApiKey): ApiKeyView {
    return {
      id: key.id,
      name: key.name,
      scopes: key.scopes,
      created_at: key.createdAt.toISOString(),
      expires_at: key.expiresAt?.toISOString() ?? null,
      last_used_at: key.lastUsedAt?.toISOString() ?? null,
      expired: key.expiresAt !== null && key.expiresAt.getTime() <= this.now(),
    };
  }
}
