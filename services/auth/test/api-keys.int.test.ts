import { jsonOf, waitFor } from '@mp3converter/shared/testing';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/adapters/mysql.js';
import type { AuthServer } from '../src/server.js';
import { JWT_SECRET, addUser, basic, startAuth, testConfig } from './helpers.js';

/** auth's key routes and /validate with keys, against a real MySQL; each test has its own user. */
const config = testConfig({ MAX_API_KEYS_PER_USER: '5', API_KEY_RATE_LIMIT: '1000' });
let auth: AuthServer;
let url: string;

beforeAll(async () => {
  auth = await startAuth(config);
  url = auth.http.url;
});
afterAll(() => auth.stop());

/** A new user's login token, as `Authorization`. */
async function loggedIn(cfg = config, server = () => url): Promise<{ email: string; authorization: string }> {
  const { email, password } = await addUser(cfg);
  const res = await fetch(`${server()}/login`, { method: 'POST', headers: { authorization: basic(email, password) } });
  return { email, authorization: `Bearer ${await res.text()}` };
}

const createKey = (authorization: string | undefined, body: unknown, base = url) =>
  fetch(`${base}/keys`, {
    method: 'POST',
    headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const listKeys = (authorization: string, base = url) => fetch(`${base}/keys`, { headers: { authorization } });
const revoke = (authorization: string, id: string, base = url) => fetch(`${base}/keys/${id}`, { method: 'DELETE', headers: { authorization } });
const validate = (authorization: string, base = url) => fetch(`${base}/validate`, { method: 'POST', headers: { authorization } });

async function newKey(authorization: string, body: Record<string, unknown> = {}, base = url): Promise<{ id: string; key: string }> {
  const res = await createKey(authorization, { name: 'script', scopes: ['read'], ...body }, base);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

describe('managing keys: hostile requests first', () => {
  it('when no login token comes, or a key stands in for one, then no key is made, listed or revoked', async () => {
    const { authorization } = await loggedIn();
    const { key, id } = await newKey(authorization, { scopes: ['upload', 'read', 'delete'] });
    expect(await jsonOf(await createKey(undefined, { name: 'x', scopes: ['read'] }))).toEqual({
      error: { code: 'missing_credentials', message: 'missing credentials' },
    });
    for (const res of [await createKey(`Bearer ${key}`, { name: 'x', scopes: ['read'] }), await listKeys(`Bearer ${key}`), await revoke(`Bearer ${key}`, id)]) {
      expect(res.status).toBe(403);
      expect((await jsonOf(res)).error.code).toBe('api_key_not_allowed');
    }
    const forged = jwt.sign({ username: 'someone@example.test', admin: true }, 'not-the-secret-xxxxxxxxxxxxxxxxxxxxxx', { expiresIn: 60 });
    expect((await createKey(`Bearer ${forged}`, { name: 'x', scopes: ['read'] })).status).toBe(403);
    expect((await createKey(basic('a@b.c', 'p'), { name: 'x', scopes: ['read'] })).status).toBe(401);
    expect((await jsonOf(await listKeys(authorization))).keys).toHaveLength(1);
  });

  it.each([
    ['a name over 100 characters', { name: 'x'.repeat(101), scopes: ['read'] }, 400],
    ['a name with a terminal escape', { name: 'a\u001b[31mred', scopes: ['read'] }, 400],
    ['a name with half a surrogate pair', '{"name":"a\\ud800","scopes":["read"]}', 400],
    ['a bidirectional override', { name: 'gpj.exe\u202e', scopes: ['read'] }, 400],
    ['no scopes', { name: 'x', scopes: [] }, 400],
    ['an admin scope', { name: 'x', scopes: ['admin'] }, 400],
    ['a scope as a string', { name: 'x', scopes: 'read' }, 400],
    ['an expiry in the past', { name: 'x', scopes: ['read'], expires_at: '2001-01-01T00:00:00Z' }, 400],
    ['an expiry past year 9999', { name: 'x', scopes: ['read'], expires_at: '9999-12-31T23:59:59-14:00' }, 400],
    ['not JSON', '{"name":', 400],
    ['a JSON array', '[]', 400],
    ['a body of 20 KiB', { name: 'x', scopes: ['read'], pad: 'x'.repeat(20_000) }, 413],
  ])('when the request has %s, then it is refused with a clear JSON error and nothing is stored', async (_what, body, status) => {
    const { authorization } = await loggedIn();
    const res = await createKey(authorization, body);
    expect(res.status).toBe(status);
    const error = (await jsonOf(res)).error;
    expect(error.code).toMatch(/^[a-z_]+$/);
    expect(error.message.length).toBeGreaterThan(0);
    expect((await jsonOf(await listKeys(authorization))).keys).toEqual([]);
  });

  it('when names look like options, markup or paths, then they are kept as they are, as text', async () => {
    const batches = [
      ['--help', '-rf', '<script>alert(1)</script>', '../../etc/passwd', "'; DROP TABLE api_keys; --"],
      ['x'.repeat(100), 'ünïcödé 🎵', '  padded  '],
    ];
    for (const names of batches) {
      const { authorization } = await loggedIn();
      for (const name of names) await newKey(authorization, { name });
      const listed = (await jsonOf(await listKeys(authorization))).keys.map((k: { name: string }) => k.name);
      expect(listed.sort()).toEqual(names.map((n) => n.trim()).sort());
    }
  });

  it("when a user revokes another user's key, or a made-up id, then 404 alike and the key still works", async () => {
    const ann = await loggedIn();
    const bob = await loggedIn();
    const { key, id } = await newKey(ann.authorization);
    for (const target of [id, 'zzzzzzzzzzzzzzzz', '..%2F..%2Fvalidate', '%00', 'x'.repeat(5000)]) {
      const res = await revoke(bob.authorization, target);
      expect(res.status, target).toBe(404);
      expect((await jsonOf(res)).error.code).toBe('key_not_found');
    }
    expect((await jsonOf(await listKeys(bob.authorization))).keys).toEqual([]);
    expect((await validate(`Bearer ${key}`)).status).toBe(200);
  });

  it('when 30 creates of one user come at once, then exactly the limit (5) are made and the rest get 409', async () => {
    const { authorization } = await loggedIn();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => createKey(authorization, { name: `burst ${i}`, scopes: ['read'] })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(25);
    const refusal = await jsonOf(answers.find((r) => r.status === 409)!);
    expect(refusal.error).toEqual({ code: 'key_limit_reached', message: 'you hold 5 API keys, the most allowed: revoke one first' });
    const list = await jsonOf(await listKeys(authorization));
    expect(list.keys).toHaveLength(5);
    expect(list.limit).toBe(5);
  });
});

describe('keys at /validate', () => {
  it.each([
    ['the prefix alone', 'Bearer mp3c_', 403, 'invalid_api_key'],
    ['a short secret', 'Bearer mp3c_0123456789abcdef_abc', 403, 'invalid_api_key'],
    ['an upper-case id', `Bearer mp3c_0123456789ABCDEF_${'a'.repeat(40)}`, 403, 'invalid_api_key'],
    ['an unknown id', `Bearer mp3c_0123456789abcdef_${'a'.repeat(40)}`, 403, 'invalid_api_key'],
    ['a huge key', `Bearer mp3c_0123456789abcdef_${'a'.repeat(8_000)}`, 403, 'invalid_api_key'],
    ['an SQL-shaped id', `Bearer mp3c_'or'1'='1'--_${'a'.repeat(40)}`, 401, 'malformed_authorization'],
    ['two keys', `Bearer mp3c_0123456789abcdef_${'a'.repeat(40)} mp3c_0123456789abcdef_${'b'.repeat(40)}`, 401, 'malformed_authorization'],
  ])('when the key is %s, then a clear refusal, never a 500', async (_what, authorization, status, code) => {
    const res = await validate(authorization);
    expect(res.status).toBe(status);
    expect((await jsonOf(res)).error.code).toBe(code);
  });

  it('when a key is right, then its claims name its owner, id and scopes, and never admin', async () => {
    const { email, authorization } = await loggedIn();
    const { key, id } = await newKey(authorization, { scopes: ['upload', 'delete'] });
    const res = await validate(`Bearer ${key}`);
    expect(res.status).toBe(200);
    const claims = await jsonOf(res);
    expect(claims).toEqual({ admin: false, iat: expect.any(Number), key_id: id, scopes: ['upload', 'delete'], username: email });
  });

  it('when its secret is wrong by one character, then it is refused as any unknown key', async () => {
    const { authorization } = await loggedIn();
    const { key } = await newKey(authorization);
    const wrong = await validate(`Bearer ${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`);
    const unknown = await validate(`Bearer mp3c_${'0'.repeat(16)}${key.slice(21)}`);
    expect([wrong.status, unknown.status]).toEqual([403, 403]);
    expect(await jsonOf(wrong)).toEqual(await jsonOf(unknown));
  });

  it('when a key is revoked, then the next check refuses it', async () => {
    const { authorization } = await loggedIn();
    const { key, id } = await newKey(authorization);
    expect((await validate(`Bearer ${key}`)).status).toBe(200);
    expect((await revoke(authorization, id)).status).toBe(204);
    expect((await validate(`Bearer ${key}`)).status).toBe(403);
    expect((await revoke(authorization, id)).status).toBe(404);
  });

  it('when a key has expired, then it is refused saying so, and listed as expired', async () => {
    const { authorization } = await loggedIn();
    const { key, id } = await newKey(authorization, { expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect(await jsonOf(await validate(`Bearer ${key}`))).toMatchObject({ exp: expect.any(Number) });
    const pool = createPool(config);
    await pool.query('UPDATE api_keys SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE id = ?', [id]);
    await pool.end();
    const res = await validate(`Bearer ${key}`);
    expect(res.status).toBe(403);
    expect((await jsonOf(res)).error.message).toMatch(/^this API key expired on \d{4}-/);
    expect((await jsonOf(await listKeys(authorization))).keys[0]).toMatchObject({ id, expired: true });
  });

  it('when a key is used, then its last use is recorded, and uses close together write it once', async () => {
    const { authorization } = await loggedIn();
    const { key, id } = await newKey(authorization);
    expect((await jsonOf(await listKeys(authorization))).keys[0].last_used_at).toBeNull();
    await validate(`Bearer ${key}`);
    // The write is not waited for by the check: read it once it landed.
    const pool = createPool(config);
    try {
      const lastUse = async () => {
        const [rows] = await pool.query<import('mysql2').RowDataPacket[]>('SELECT last_used_at FROM api_keys WHERE id = ?', [id]);
        return rows[0]?.last_used_at as Date | null;
      };
      const first = await waitFor(async () => (await lastUse()) ?? undefined, { what: 'the last use' });
      for (let i = 0; i < 5; i++) await validate(`Bearer ${key}`);
      expect(await lastUse()).toEqual(first);
      const listed = (await jsonOf(await listKeys(authorization))).keys[0].last_used_at;
      expect(Math.abs(Date.parse(listed) - Date.now())).toBeLessThan(60_000);
    } finally {
      await pool.end();
    }
  });

  it('when a key makes more requests than its rate, then 429 with Retry-After, while another key of the same user goes on', async () => {
    const limited = testConfig({ API_KEY_RATE_LIMIT: '3', API_KEY_RATE_WINDOW_SECONDS: '60' });
    const server = await startAuth(limited);
    try {
      const { authorization } = await loggedIn(limited, () => server.http.url);
      const a = await newKey(authorization, {}, server.http.url);
      const b = await newKey(authorization, {}, server.http.url);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await validate(`Bearer ${a.key}`, server.http.url)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await validate(`Bearer ${a.key}`, server.http.url);
      expect(refused.headers.get('retry-after')).toBe('20');
      expect((await jsonOf(refused)).error.code).toBe('api_key_rate_limited');
      expect((await validate(`Bearer ${b.key}`, server.http.url)).status).toBe(200);
      // The login token is not a key: no key rate applies to it.
      for (let i = 0; i < 5; i++) expect((await validate(authorization, server.http.url)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('the login token alongside keys', () => {
  it('when the token is checked, then its claims are the original four, unchanged', async () => {
    const { email, authorization } = await loggedIn();
    const claims = await jsonOf(await validate(authorization));
    expect(Object.keys(claims)).toEqual(['admin', 'exp', 'iat', 'username']);
    expect(claims.username).toBe(email);
    expect(jwt.verify(authorization.slice(7), JWT_SECRET)).toMatchObject({ username: email });
  });
});
