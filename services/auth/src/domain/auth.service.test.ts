import { describe, expect, it } from 'vitest';
import {
  AuthService,
  type Claims,
  InvalidCredentialsError,
  type PasswordHasher,
  type TokenIssuer,
  type UserRecord,
  type UserRepository,
} from './auth.service.js';

class MemoryUsers implements UserRepository {
  readonly rows: UserRecord[] = [];
  lookups = 0;
  async findByEmail(email: string) {
    this.lookups++;
    return this.rows.find((r) => r.email === email);
  }
  async create(u: { email: string; passwordHash: string; admin: boolean }) {
    if (this.rows.some((r) => r.email === u.email)) return false;
    this.rows.push({ id: this.rows.length + 1, ...u });
    return true;
  }
  async updatePasswordHash(id: number, passwordHash: string) {
    const row = this.rows.find((r) => r.id === id);
    if (row) row.passwordHash = passwordHash;
  }
}

class FakeHasher implements PasswordHasher {
  verifications: string[] = [];
  async hash(p: string) {
    return `hashed:${p}`;
  }
  async verify(stored: string, p: string) {
    this.verifications.push(stored);
    return stored.startsWith('hashed:') ? stored === `hashed:${p}` : stored === p;
  }
  needsRehash(stored: string) {
    return !stored.startsWith('hashed:');
  }
}

const tokens: TokenIssuer = {
  issue: ({ username, admin }) => JSON.stringify({ username, admin }),
  verify: (t) => JSON.parse(t) as Claims,
};

const setup = () => {
  const users = new MemoryUsers();
  const hasher = new FakeHasher();
  return { users, hasher, auth: new AuthService(users, hasher, tokens) };
};

describe('AuthService.login', () => {
  it('when the password is right, then a token carries the stored email and admin flag', async () => {
    const { auth } = setup();
    await auth.addUser('Someone@Example.com', 'pw', false);
    const token = await auth.login({ email: 'SOMEONE@example.com', password: 'pw' });
    expect(JSON.parse(token)).toEqual({ username: 'someone@example.com', admin: false });
  });

  it('when the user is unknown, then a decoy hash is still verified and the error is the same as a wrong password', async () => {
    const { auth, hasher } = setup();
    await auth.addUser('a@b.c', 'pw', true);
    const unknown = await auth.login({ email: 'nobody@b.c', password: 'pw' }).catch((e: unknown) => e);
    const wrong = await auth.login({ email: 'a@b.c', password: 'nope' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(InvalidCredentialsError);
    expect(wrong).toBeInstanceOf(InvalidCredentialsError);
    expect(hasher.verifications).toHaveLength(2);
  });

  it('when the password is empty or the email too long, then the store is not asked', async () => {
    const { auth, users } = setup();
    await expect(auth.login({ email: 'a@b.c', password: '' })).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(auth.login({ email: `${'x'.repeat(300)}@b.c`, password: 'p' })).rejects.toBeInstanceOf(InvalidCredentialsError);
    expect(users.lookups).toBe(0);
  });

  it('when a clear-text password from the original matches, then it is replaced by a hash', async () => {
    const { auth, users } = setup();
    users.rows.push({ id: 1, email: 'georgio@email.com', passwordHash: 'Admin123', admin: true });
    await auth.login({ email: 'georgio@email.com', password: 'Admin123' });
    expect(users.rows[0]?.passwordHash).toBe('hashed:Admin123');
  });
});

describe('AuthService.addUser', () => {
  it('when the email exists in another case, then nothing is added', async () => {
    const { auth } = setup();
    expect(await auth.addUser('a@b.c', 'pw', false)).toBe(true);
    expect(await auth.addUser('A@B.C', 'pw', false)).toBe(false);
  });

  it('when the email is not an address or the password empty, then it is refused', async () => {
    const { auth } = setup();
    await expect(auth.addUser('not-an-email', 'pw', false)).rejects.toThrow(RangeError);
    await expect(auth.addUser('a@b.c', '', false)).rejects.toThrow(RangeError);
  });
});
