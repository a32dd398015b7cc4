import { TcpProxy, jsonOf, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { describe, expect, it } from 'vitest';
import type { AuthServer } from '../src/server.js';
import { addUser, basic, mysqlEnv, startAuth, testConfig } from './helpers.js';

/** A login as the gateway forwards it: the client's address in X-Forwarded-For (auth trusts loopback). */
const login = (server: AuthServer, email: string, password: string, address: string) =>
  fetch(`${server.http.url}/login`, { method: 'POST', headers: { authorization: basic(email, password), 'x-forwarded-for': address } });

async function withAuth<T>(
  env: Record<string, string>,
  work: (servers: AuthServer[], config: ReturnType<typeof testConfig>) => Promise<T>,
  replicas = 1,
): Promise<T> {
  const config = testConfig({ LOGIN_RATE_WINDOW_SECONDS: '60', ...env });
  const servers = await Promise.all(Array.from({ length: replicas }, () => startAuth(config)));
  try {
    return await work(servers, config);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

describe('failed logins, limited per address and per address and email', () => {
  it('when failures land on two auth replicas, then they count together', async () => {
    await withAuth(
      { LOGIN_RATE_LIMIT: '3' },
      async ([a, b], config) => {
        const { email } = await addUser(config);
        const statuses = [];
        for (const server of [a!, b!, a!, b!]) statuses.push((await login(server, email, 'wrong', '198.51.100.7')).status);
        expect(statuses).toEqual([401, 401, 401, 429]);
      },
      2,
    );
  });

  it('when many wrong guesses arrive at once, then no more than the limit are checked', async () => {
    await withAuth({ LOGIN_RATE_LIMIT: '3', LOGIN_ADDRESS_RATE_LIMIT: '5' }, async ([auth], config) => {
      const { email } = await addUser(config);
      const burst = await Promise.all(Array.from({ length: 20 }, () => login(auth!, email, 'guess', '198.51.100.30')));
      const statuses = burst.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(3);
      expect(statuses.filter((s) => s === 429)).toHaveLength(17);
      const spray = await Promise.all(Array.from({ length: 20 }, () => login(auth!, uniqueEmail('burst'), 'guess', '198.51.100.31')));
      expect(spray.filter((r) => r.status === 401)).toHaveLength(5);
    });
  });

  it('when one address sprays a password over many emails, then it is stopped, with an accurate Retry-After', async () => {
    await withAuth({ LOGIN_RATE_LIMIT: '3', LOGIN_ADDRESS_RATE_LIMIT: '5' }, async ([auth]) => {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await login(auth!, uniqueEmail('sprayed'), 'Summer2026!', '198.51.100.8')).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      const blocked = await login(auth!, uniqueEmail('sprayed'), 'Summer2026!', '198.51.100.8');
      expect(blocked.status).toBe(429);
      expect((await jsonOf(blocked)).error.code).toBe('too_many_attempts');
      const wait = Number(blocked.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(50);
      expect(wait).toBeLessThanOrEqual(60);
      // Another address is not affected.
      expect((await login(auth!, uniqueEmail('sprayed'), 'Summer2026!', '198.51.100.9')).status).toBe(401);
    });
  });

  it('when a stranger fails on purpose on a user’s email, then the stranger is stopped and the user, from their own address, still logs in', async () => {
    await withAuth({ LOGIN_RATE_LIMIT: '3' }, async ([auth], config) => {
      const { email, password } = await addUser(config);
      for (let i = 0; i < 10; i++) await login(auth!, email, 'guess', '203.0.113.66');
      expect((await login(auth!, email, password, '203.0.113.66')).status).toBe(429);
      const own = await login(auth!, email, password, '192.0.2.10');
      expect(own.status).toBe(200);
      expect(own.headers.get('cache-control')).toBe('no-store');
    });
  });

  it('when a user gets it right after a few mistakes, then their count starts again', async () => {
    await withAuth({ LOGIN_RATE_LIMIT: '3' }, async ([auth], config) => {
      const { email, password } = await addUser(config);
      await login(auth!, email, 'typo', '192.0.2.11');
      await login(auth!, email, 'typo', '192.0.2.11');
      expect((await login(auth!, email, password, '192.0.2.11')).status).toBe(200);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await login(auth!, email, 'typo', '192.0.2.11')).status);
      expect(statuses).toEqual([401, 401, 401]);
    });
  });

  it('when a client that is not a trusted proxy sends X-Forwarded-For, then its own address is counted', async () => {
    await withAuth({ LOGIN_RATE_LIMIT: '2', TRUST_PROXY: '10.0.0.0/8' }, async ([auth], config) => {
      const { email } = await addUser(config);
      const statuses = [];
      for (const forged of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) statuses.push((await login(auth!, email, 'wrong', forged)).status);
      expect(statuses).toEqual([401, 401, 429]);
    });
  });

  it('when MySQL stops answering, then a login gets 503 rather than waiting or going unlimited, and works again once it is back', async () => {
    const target = mysqlEnv();
    const proxy = await new TcpProxy(target.MYSQL_HOST!, Number(target.MYSQL_PORT)).start();
    try {
      await withAuth({ ...mysqlEnv({ host: '127.0.0.1', port: proxy.port }), MYSQL_TIMEOUT_MS: '1000', LOGIN_RATE_LIMIT: '3' }, async ([auth], config) => {
        const { email, password } = await addUser(config);
        expect((await login(auth!, email, password, '192.0.2.40')).status).toBe(200);
        proxy.hang();
        const statuses = [];
        for (let i = 0; i < 5; i++) {
          statuses.push(
            (
              await fetch(`${auth!.http.url}/login`, {
                method: 'POST',
                headers: { authorization: basic(email, 'guess'), 'x-forwarded-for': '192.0.2.41' },
                signal: AbortSignal.timeout(15_000),
              })
            ).status,
          );
        }
        expect(statuses).toEqual([503, 503, 503, 503, 503]);
        proxy.heal();
        await waitFor(async () => (await login(auth!, email, password, '192.0.2.40')).status === 200, {
          timeoutMs: 30_000,
          what: 'login after MySQL answers again',
        });
        // The guesses made while MySQL hung were never checked, and never counted.
        const after = [];
        for (let i = 0; i < 4; i++) after.push((await login(auth!, email, 'guess', '192.0.2.41')).status);
        expect(after).toEqual([401, 401, 401, 429]);
      });
    } finally {
      await proxy.stop();
    }
  });
});
