import { timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ApiKeyExpiryError,
  ApiKeyLimitError,
  ApiKeyRateLimitedError,
  type ApiKeyRepository,
  ApiKeyService,
  InvalidApiKeyError,
  type KeyCreation,
  type StoredApiKey,
  UnknownOwnerError,
} from './api-keys.js';
import { KeyUsage } from './key-usage.js';

type Row = StoredApiKey & { secretHash: Buffer; owner: string };

class MemoryKeys implements ApiKeyRepository {
  readonly rows: Row[] = [];
  readonly users = new Set(['ann@example.com', 'bob@example.com']);
  readonly recorded: string[] = [];
  finds = 0;
  async create(owner: string, key: StoredApiKey & { secretHash: Buffer }, maxPerUser: number): Promise<KeyCreation> {
    if (!this.users.has(owner)) return 'no_user';
    if (this.rows.some((r) => r.id === key.id)) return 'id_taken';
    if (this.rows.filter((r) => r.owner === owner).length >= maxPerUser) return 'limit_reached';
    this.rows.push({ ...key, owner });
    return 'created';
  }
  async list(owner: string) {
    return this.rows.filter((r) => r.owner === owner).map(({ secretHash: _h, owner: _o, ...key }) => key);
  }
  async remove(owner: string, id: string) {
    const i = this.rows.findIndex((r) => r.owner === owner && r.id === id);
    if (i < 0) return false;
    this.rows.splice(i, 1);
    return true;
  }
  async find(id: string) {
    this.finds++;
    const row = this.rows.find((r) => r.id === id);
    if (!row) return undefined;
    const { secretHash, owner, ...key } = row;
    return { key, secretHash, owner };
  }
  async recordUse(id: string) {
    this.recorded.push(id);
  }
}

const setup = ({ maxPerUser = 5, limit = 100 } = {}) => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const repo = new MemoryKeys();
  const failures: unknown[] = [];
  const clock = () => now;
  const compared: [Buffer, Buffer][] = [];
  const keys = new ApiKeyService(
    repo,
    new KeyUsage({ limit, windowMs: 60_000, recordEveryMs: 60_000 }, clock),
    { maxPerUser, recordEveryMs: 60_000 },
    {
      onRecordFailure: (err) => failures.push(err),
      now: clock,
      equal: (a, b) => {
        compared.push([a, b]);
        return timingSafeEqual(a, b);
      },
    },
  );
  return { repo, keys, failures, compared, advance: (ms: number) => (now += ms), now: () => now };
};

describe('ApiKeyService', () => {
  it('when a key is created, then it is shown once in the mp3c_ form and only its hash is stored', async () => {
    const { keys, repo } = setup();
    const created = await keys.create('ann@example.com', { name: 'ci', scopes: ['upload', 'read'] });
    expect(created.key).toMatch(/^mp3c_[0-9a-z]{16}_[0-9A-Za-z]{40}$/);
    expect(created.key.startsWith(`mp3c_${created.id}_`)).toBe(true);
    expect(created).toMatchObject({ name: 'ci', scopes: ['upload', 'read'], expires_at: null, last_used_at: null, expired: false });
    const stored = repo.rows[0]!;
    expect(stored.secretHash).toHaveLength(32);
    expect(JSON.stringify(stored)).not.toContain(created.key.slice(22));
    expect(await keys.list('ann@example.com')).toEqual([expect.not.objectContaining({ key: expect.anything() })]);
  });

  it('when two keys are created, then their ids and secrets differ', async () => {
    const { keys } = setup();
    const [a, b] = [
      await keys.create('ann@example.com', { name: 'a', scopes: ['read'] }),
      await keys.create('ann@example.com', { name: 'a', scopes: ['read'] }),
    ];
    expect(a.id).not.toBe(b.id);
    expect(a.key.slice(22)).not.toBe(b.key.slice(22));
  });

  it('when a key is checked, then it speaks for its owner with its scopes and expiry', async () => {
    const { keys, now } = setup();
    const expires = new Date(now() + 86_400_000).toISOString();
    const { key, id } = await keys.create('ann@example.com', { name: 'ci', scopes: ['read'], expires_at: expires });
    expect(await keys.verify(key)).toEqual({
      username: 'ann@example.com',
      keyId: id,
      scopes: ['read'],
      iat: now() / 1000,
      exp: Date.parse(expires) / 1000,
    });
  });

  it('when the secret is wrong, the id unknown or the key malformed, then each is refused alike', async () => {
    const { keys, repo } = setup();
    const { key, id } = await keys.create('ann@example.com', { name: 'ci', scopes: ['read'] });
    const wrongSecret = `${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`;
    const unknownId = `mp3c_${'0'.repeat(16)}_${key.slice(22)}`;
    await expect(keys.verify(wrongSecret)).rejects.toThrow(new InvalidApiKeyError('invalid API key'));
    await expect(keys.verify(unknownId)).rejects.toThrow(new InvalidApiKeyError('invalid API key'));
    await expect(keys.verify(`mp3c_${id}`)).rejects.toThrow(InvalidApiKeyError);
    await expect(keys.verify('mp3c_--help')).rejects.toThrow(InvalidApiKeyError);
    // A malformed key costs no lookup.
    expect(repo.finds).toBe(2);
  });

  it('when the id is unknown, then the secret is still compared in full, against a decoy, as for a known id', async () => {
    const { keys, repo, compared } = setup();
    const { key } = await keys.create('ann@example.com', { name: 'ci', scopes: ['read'] });
    await expect(keys.verify(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`)).rejects.toThrow(InvalidApiKeyError);
    await expect(keys.verify(`mp3c_${'0'.repeat(16)}${key.slice(21)}`)).rejects.toThrow(InvalidApiKeyError);
    expect(compared).toHaveLength(2);
    const [[, stored], [, decoy]] = compared as [[Buffer, Buffer], [Buffer, Buffer]];
    expect(stored).toEqual(repo.rows[0]!.secretHash);
    // Both compare 32 bytes of SHA-256 with 32 bytes: neither path is shorter.
    for (const [a, b] of compared) expect([a.length, b.length]).toEqual([32, 32]);
    expect(decoy).not.toEqual(stored);
  });

  it('when the key has expired, then it is refused, saying so, and listed as expired', async () => {
    const { keys, now, advance } = setup();
    const { key } = await keys.create('ann@example.com', { name: 'ci', scopes: ['read'], expires_at: new Date(now() + 120_000).toISOString() });
    advance(120_000);
    await expect(keys.verify(key)).rejects.toThrow(/expired on 2030-01-01T00:02:00.000Z/);
    expect((await keys.list('ann@example.com'))[0]).toMatchObject({ expired: true });
  });

  it.each([
    ['in the past', -1_000],
    ['in less than a minute', 59_000],
    ['more than ten years ahead', 3_651 * 86_400_000],
  ])('when the expiry is %s, then the key is refused', async (_what, ahead) => {
    const { keys, now, repo } = setup();
    await expect(keys.create('ann@example.com', { name: 'ci', scopes: ['read'], expires_at: new Date(now() + ahead).toISOString() })).rejects.toThrow(
      ApiKeyExpiryError,
    );
    expect(repo.rows).toHaveLength(0);
  });

  it('when the owner holds the most keys allowed, then one more is refused until one is revoked', async () => {
    const { keys } = setup({ maxPerUser: 2 });
    const first = await keys.create('ann@example.com', { name: 'a', scopes: ['read'] });
    await keys.create('ann@example.com', { name: 'b', scopes: ['read'] });
    await expect(keys.create('ann@example.com', { name: 'c', scopes: ['read'] })).rejects.toThrow(ApiKeyLimitError);
    await keys.create('bob@example.com', { name: 'c', scopes: ['read'] });
    expect(await keys.revoke('ann@example.com', first.id)).toBe(true);
    await keys.create('ann@example.com', { name: 'c', scopes: ['read'] });
  });

  it('when the token names a user who is gone, then no key is made', async () => {
    const { keys } = setup();
    await expect(keys.create('gone@example.com', { name: 'a', scopes: ['read'] })).rejects.toThrow(UnknownOwnerError);
  });

  it("when someone revokes another user's key, or an id that is not one, then nothing happens and the key still works", async () => {
    const { keys } = setup();
    const { key, id } = await keys.create('ann@example.com', { name: 'a', scopes: ['read'] });
    expect(await keys.revoke('bob@example.com', id)).toBe(false);
    expect(await keys.revoke('ann@example.com', '../../etc/passwd')).toBe(false);
    expect(await keys.revoke('ann@example.com', id.toUpperCase())).toBe(false);
    await expect(keys.verify(key)).resolves.toMatchObject({ username: 'ann@example.com' });
    expect(await keys.revoke('ann@example.com', id)).toBe(true);
    await expect(keys.verify(key)).rejects.toThrow(InvalidApiKeyError);
    expect(await keys.revoke('ann@example.com', id)).toBe(false);
  });

  it('when a key is used past its rate, then it is refused with the wait, and other keys are not', async () => {
    const { keys } = setup({ limit: 2 });
    const a = await keys.create('ann@example.com', { name: 'a', scopes: ['read'] });
    const b = await keys.create('ann@example.com', { name: 'b', scopes: ['read'] });
    await keys.verify(a.key);
    await keys.verify(a.key);
    const refused = await keys.verify(a.key).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiKeyRateLimitedError);
    expect((refused as ApiKeyRateLimitedError).retryAfterMs).toBe(30_000);
    await expect(keys.verify(b.key)).resolves.toBeDefined();
  });

  it("when wrong secrets are sent with a key's id, then they do not spend the key's rate", async () => {
    const { keys } = setup({ limit: 1 });
    const { key } = await keys.create('ann@example.com', { name: 'a', scopes: ['read'] });
    for (let i = 0; i < 5; i++) await expect(keys.verify(`${key.slice(0, 22)}${'x'.repeat(40)}`)).rejects.toThrow(InvalidApiKeyError);
    await expect(keys.verify(key)).resolves.toBeDefined();
  });

  it('when a key is used many times, then its last use is written once per interval, and a failed write is only reported', async () => {
    const { keys, repo, advance, failures } = setup();
    const { key, id } = await keys.create('ann@example.com', { name: 'a', scopes: ['read'] });
    for (let i = 0; i < 20; i++) await keys.verify(key);
    expect(repo.recorded).toEqual([id]);
    advance(60_000);
    repo.recordUse = async () => {
      throw new Error('store down');
    };
    await expect(keys.verify(key)).resolves.toBeDefined();
    await Promise.resolve();
    expect(failures).toEqual([new Error('store down')]);
  });
});
