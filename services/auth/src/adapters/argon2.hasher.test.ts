import { describe, expect, it } from 'vitest';
import { Argon2Hasher } from './argon2.hasher.js';

const hasher = new Argon2Hasher();

describe('Argon2Hasher', () => {
  it('when a password is hashed, then the result is argon2id and not the password', async () => {
    const stored = await hasher.hash('Admin123');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(stored).not.toContain('Admin123');
    expect(hasher.needsRehash(stored)).toBe(false);
  });

  it('when the right and a wrong password are verified, then only the right one passes', async () => {
    const stored = await hasher.hash('pässwörd');
    expect(await hasher.verify(stored, 'pässwörd')).toBe(true);
    expect(await hasher.verify(stored, 'passwort')).toBe(false);
  });

  it('when the same password is hashed twice, then the salts differ', async () => {
    expect(await hasher.hash('x')).not.toBe(await hasher.hash('x'));
  });

  it('when the stored value is clear text, then it is compared and flagged for rehash', async () => {
    expect(await hasher.verify('Admin123', 'Admin123')).toBe(true);
    expect(await hasher.verify('Admin123', 'admin123')).toBe(false);
    expect(hasher.needsRehash('Admin123')).toBe(true);
  });

  it('when the stored hash is corrupt, then verification fails rather than throws', async () => {
    expect(await hasher.verify('$argon2id$garbage', 'x')).toBe(false);
  });
});
