import { createHash, timingSafeEqual } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { PasswordHasher } from '../domain/auth.service.js';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. About 20 ms a hash on one core. */
/** `Algorithm.Argon2id`; the package exports it as a const enum, which isolated modules cannot read. */
const ARGON2ID = 2;
const PARAMS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const CURRENT_PREFIX = `$argon2id$v=19$m=${PARAMS.memoryCost},t=${PARAMS.timeCost},p=${PARAMS.parallelism}$`;

const digest = (value: string) => createHash('sha256').update(value).digest();

export class Argon2Hasher implements PasswordHasher {
  hash(password: string): Promise<string> {
    return hash(password, PARAMS);
  }

  async verify(stored: string, password: string): Promise<boolean> {
    if (stored.startsWith('$argon2')) {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    }
    // A clear-text password from the original's init.sql: compared in constant time, then upgraded by the caller.
    return timingSafeEqual(digest(stored), digest(password));
  }

  needsRehash(stored: string): boolean {
    return !stored.startsWith(CURRENT_PREFIX);
  }
}
