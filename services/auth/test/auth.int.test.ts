import { createConnection } from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TcpProxy, jsonOf, testLogger, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/adapters/migrations.js';
import { createPool } from '../src/adapters/mysql.js';
import type { AuthServer } from '../src/server.js';
import { JWT_SECRET, addUser, basic, mysqlEnv, startAuth, testConfig } from './helpers.js';

let auth: AuthServer;
let url: string;
let healthUrl: string;
const config = testConfig();

beforeAll(async () => {
  auth = await startAuth(config);
  url = auth.http.url;
  healthUrl = auth.health.url;
});
afterAll(() => auth.stop());

const newUser = (opts: Parameters<typeof addUser>[1] = {}) => addUser(config, opts);

const login = (headers: Record<string, string>, body?: string) => fetch(`${url}/login`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });

const validate = (authorization?: string) => fetch(`${url}/validate`, { method: 'POST', headers: authorization === undefined ? {} : { authorization } });

describe('POST /login', () => {
  it('when Basic credentials are right, then 200 with the raw JWT as text/plain', async () => {
    const { email, password } = await newUser({ admin: true });
    const res = await login({ authorization: basic(email, password) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const token = await res.text();
    expect(token.split('.')).toHaveLength(3);
    const claims = jwt.verify(token, JWT_SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ username: email, admin: true });
    expect(claims.exp! - claims.iat!).toBe(86_400);
  });

  it('when a JSON body carries the credentials, then it logs in too', async () => {
    const { email, password } = await newUser();
    const res = await login({ 'content-type': 'application/json' }, JSON.stringify({ email, password }));
    expect(res.status).toBe(200);
    expect(jwt.decode(await res.text())).toMatchObject({ username: email, admin: false });
  });

  it('when the email is typed in another case, then it still matches', async () => {
    const { email, password } = await newUser();
    expect((await login({ authorization: basic(email.toUpperCase(), password) })).status).toBe(200);
  });

  it('when the user is unknown or the password wrong, then both get the same 401 body', async () => {
    const { email } = await newUser();
    const wrong = await login({ authorization: basic(email, 'wrong-password') });
    const unknown = await login({ authorization: basic(uniqueEmail('ghost'), 'wrong-password') });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [a, b] = [await jsonOf(wrong), await jsonOf(unknown)];
    expect(a).toEqual({ error: { code: 'invalid_credentials', message: 'invalid credentials' } });
    expect(b).toEqual(a);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('when an unknown user logs in, then it takes about as long as a wrong password', async () => {
    const { email } = await newUser();
    const time = async (e: string) => {
      const t = performance.now();
      await login({ authorization: basic(e, 'not-the-password') });
      return performance.now() - t;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time(email));
      unknown.push(await time(uniqueEmail('ghost')));
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[2]!;
    // Both spend one argon2 verification; without the decoy the unknown path would be ~20x faster.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });

  it.each([
    ['no header and no body', {}],
    ['a Bearer header', { authorization: 'Bearer abc.def.ghi' }],
    ['broken base64', { authorization: 'Basic %%%%' }],
    ['no colon', { authorization: `Basic ${Buffer.from('just-an-email').toString('base64')}` }],
  ])('when there is %s, then 401 missing credentials', async (_label, headers) => {
    const res = await login(headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(await jsonOf(res)).toEqual({ error: { code: 'missing_credentials', message: 'missing credentials' } });
  });

  it('when the JSON body is not JSON, then 401 missing credentials', async () => {
    const res = await login({ 'content-type': 'application/json' }, '{"email": ');
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).error.code).toBe('missing_credentials');
  });

  it('when the Authorization header is 10 kB, then 401 and nothing breaks', async () => {
    const res = await login({ authorization: basic(`${'a'.repeat(10_000)}@x.y`, 'pw') });
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).error.code).toBe('invalid_credentials');
  });

  it.each([`' OR '1'='1' -- @x.y`, `x@y.z'; DROP TABLE user; --`, 'jürgen@exämple.de', '用户@例子.广告'])(
    'when the email is %j and unknown, then 401 and the table is intact',
    async (email) => {
      const res = await login({ authorization: basic(email, 'whatever') });
      expect(res.status).toBe(401);
      const { email: known, password } = await newUser();
      expect((await login({ authorization: basic(known, password) })).status).toBe(200);
    },
  );

  it('when a user has a non-ASCII email, then they can log in', async () => {
    const { email, password } = await newUser({ email: `${randomBytes(4).toString('hex')}-jürgen@exämple.de`, password: 'pässwörd' });
    const res = await login({ authorization: basic(email, password) });
    expect(res.status).toBe(200);
    expect(jwt.decode(await res.text())).toMatchObject({ username: email });
  });

  it('when the password is empty, then 401 invalid credentials', async () => {
    const { email } = await newUser();
    const res = await login({ authorization: basic(email, '') });
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).error.code).toBe('invalid_credentials');
  });

  it('when many logins run at once, then all succeed', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser()));
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => users[i % users.length]!).map((u) => login({ authorization: basic(u.email, u.password) })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
  });

  it('when a client keeps failing for one email, then 429 with Retry-After', async () => {
    const limitedConfig = testConfig({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_WINDOW_SECONDS: '60' });
    const limited = await startAuth(limitedConfig);
    try {
      const { email, password } = await addUser(limitedConfig);
      const attempt = (pw: string) => fetch(`${limited.http.url}/login`, { method: 'POST', headers: { authorization: basic(email, pw) } });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await attempt('wrong')).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      const blocked = await attempt(password);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await jsonOf(blocked)).error.code).toBe('too_many_attempts');
      // Another email from the same client is not affected.
      const other = await fetch(`${limited.http.url}/login`, { method: 'POST', headers: { authorization: basic(uniqueEmail(), 'x') } });
      expect(other.status).toBe(401);
    } finally {
      await limited.stop();
    }
  });

  it('when GET is used, then a JSON error, not HTML', async () => {
    const res = await fetch(`${url}/login`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await jsonOf(res)).error.code).toBe('method_not_allowed');
  });
});

describe('POST /validate', () => {
  const tokenFor = async () => {
    const { email, password } = await newUser({ admin: true });
    return { email, token: await (await login({ authorization: basic(email, password) })).text() };
  };

  it('when the Bearer token is valid, then 200 with the claims in sorted keys', async () => {
    const { email, token } = await tokenFor();
    const res = await validate(`Bearer ${token}`);
    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(Object.keys(body)).toEqual(['admin', 'exp', 'iat', 'username']);
    expect(body).toMatchObject({ admin: true, username: email });
  });

  it('when the header is missing, then 401 (the original answered 500)', async () => {
    const res = await validate();
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).error.code).toBe('missing_credentials');
  });

  it.each(['', 'justatoken', 'Bearer', 'Basic abc', 'Bearer a b'])('when the header is %j, then 401, never 500', async (header) => {
    const res = await validate(header);
    expect(res.status).toBe(401);
  });

  it('when the signature is wrong, the token expired, alg is none or HS512, then 403', async () => {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { username: 'a@b.c', admin: true };
    const tokens = [
      jwt.sign(claims, 'another-secret-another-secret-xx', { expiresIn: 60 }),
      jwt.sign({ ...claims, iat: now - 100, exp: now - 10 }, JWT_SECRET),
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iat: now, exp: now + 60 })}.`,
      jwt.sign(claims, JWT_SECRET, { algorithm: 'HS512', expiresIn: 60 }),
      jwt.sign(claims, JWT_SECRET),
    ];
    for (const token of tokens) {
      const res = await validate(`Bearer ${token}`);
      expect(res.status).toBe(403);
      expect(await jsonOf(res)).toEqual({ error: { code: 'invalid_token', message: 'not authorized' } });
    }
  });
});

describe('database', () => {
  it('when migrations run again, and from several callers at once, then nothing is applied twice', async () => {
    const pool = createPool(config);
    try {
      const runs = await Promise.all([1, 2, 3].map(() => migrate(pool, testLogger())));
      expect(runs.flat()).toEqual([]);
      const [rows] = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }]);
    } finally {
      await pool.end();
    }
  });

  it('when a fresh database is migrated by concurrent starts, then each version lands once', async () => {
    const fresh = testConfig();
    const servers = await Promise.all([startAuth(fresh), startAuth(fresh)]);
    await Promise.all(servers.map((s) => s.stop()));
    const pool = createPool(fresh);
    const [rows] = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
    await pool.end();
    expect(rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }]);
  });

  it('when passwords are stored, then the column holds argon2id, never the password', async () => {
    const { email, password } = await newUser();
    const pool = createPool(config);
    const [rows] = await pool.query<import('mysql2').RowDataPacket[]>('SELECT password FROM user WHERE email = ?', [email]);
    await pool.end();
    expect(rows[0]?.password).toMatch(/^\$argon2id\$/);
    expect(rows[0]?.password).not.toContain(password);
  });

  it("when the original's init.sql rows are there in clear text, then login works and upgrades the hash", async () => {
    const legacy = testConfig();
    const conn = await createConnection({ ...connOpts() });
    await conn.query(`CREATE DATABASE \`${legacy.MYSQL_DB}\``);
    await conn.query(`USE \`${legacy.MYSQL_DB}\``);
    await conn.query('CREATE TABLE user (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, password VARCHAR(255) NOT NULL)');
    await conn.query("INSERT INTO user (email, password) VALUES ('georgio@email.com', 'Admin123')");
    const server = await startAuth(legacy);
    try {
      const res = await fetch(`${server.http.url}/login`, { method: 'POST', headers: { authorization: basic('georgio@email.com', 'Admin123') } });
      expect(res.status).toBe(200);
      const [rows] = await conn.query<import('mysql2').RowDataPacket[]>('SELECT password, admin FROM user');
      expect(rows[0]?.password).toMatch(/^\$argon2id\$/);
      expect(rows[0]?.admin).toBe(0);
    } finally {
      await server.stop();
      await conn.end();
    }
  });

  it('when a seed user is configured, then it is created once and can log in', async () => {
    // The original's seed password, as the start command seeds it: in development only.
    const seeded = testConfig({ NODE_ENV: 'development', SEED_USER_EMAIL: 'georgio@email.com', SEED_USER_PASSWORD: 'Admin123' });
    const first = await startAuth(seeded);
    await first.stop();
    const server = await startAuth(seeded);
    try {
      const res = await fetch(`${server.http.url}/login`, { method: 'POST', headers: { authorization: basic('georgio@email.com', 'Admin123') } });
      expect(res.status).toBe(200);
      expect(jwt.decode(await res.text())).toMatchObject({ username: 'georgio@email.com', admin: true });
    } finally {
      await server.stop();
    }
  });

  it('when MySQL is down at start-up and later, then 503 on /readyz and /login, and recovery without a restart', async () => {
    const target = mysqlEnv();
    const proxy = new TcpProxy(target.MYSQL_HOST!, Number(target.MYSQL_PORT));
    await proxy.start();
    const port = proxy.port;
    await proxy.stop();
    const outage = testConfig({ ...mysqlEnv({ host: '127.0.0.1', port }), MYSQL_TIMEOUT_MS: '1000' });
    const server = await (await import('../src/server.js')).startAuthServer(outage, testLogger());
    try {
      const { email, password } = { email: uniqueEmail(), password: 'pw-outage' };
      const readyz = () => fetch(`${server.health.url}/readyz`);
      const loginNow = () => fetch(`${server.http.url}/login`, { method: 'POST', headers: { authorization: basic(email, password) } });

      expect((await readyz()).status).toBe(503);
      const down = await loginNow();
      expect(down.status).toBe(503);
      expect((await jsonOf(down)).error.code).toBe('unavailable');

      await proxy.start(port);
      await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 30_000, what: 'auth ready after MySQL is back' });
      await addUser(outage, { email, password });
      expect((await loginNow()).status).toBe(200);

      await proxy.stop();
      expect((await readyz()).status).toBe(503);
      expect((await loginNow()).status).toBe(503);

      await proxy.start(port);
      await waitFor(async () => (await loginNow()).status === 200, { timeoutMs: 30_000, what: 'login after MySQL is back' });
      expect((await readyz()).status).toBe(200);
    } finally {
      await server.stop();
      await proxy.stop();
    }
  });
});

describe('probes', () => {
  it('when the service runs, then /healthz is ok and /readyz reports MySQL, on the probe port only', async () => {
    expect(await (await fetch(`${healthUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    for (const path of ['/healthz', '/readyz']) expect((await fetch(`${url}${path}`)).status, path).toBe(404);
    const ready = await fetch(`${healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await jsonOf(ready)).toEqual({ status: 'ready', checks: { mysql: 'ok' } });
  });

  it('when an unknown path is asked, then 404 JSON', async () => {
    const res = await fetch(`${url}/nope`);
    expect(res.status).toBe(404);
    expect((await jsonOf(res)).error.code).toBe('route_not_found');
  });
});

function connOpts() {
  const env = mysqlEnv();
  return { host: env.MYSQL_HOST, port: Number(env.MYSQL_PORT), user: env.MYSQL_USER, password: env.MYSQL_PASSWORD };
}
