import { TcpProxy, metricValue, scrape, testLogger, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServer } from '../src/server.js';
import { addUser, basic, mysqlEnv, startAuth, testConfig } from './helpers.js';

const config = testConfig();
let server: AuthServer;
beforeAll(async () => {
  server = await startAuth(config);
});
afterAll(async () => {
  await server.stop();
});

const login = (authorization?: string) =>
  fetch(`${server.http.url}/login`, { method: 'POST', headers: authorization ? { authorization } : {} }).then((r) => r.status);

describe('auth metrics', () => {
  it('when users log in, fail and send nothing, then each outcome and the /login requests are counted on the probe port, not the public one', async () => {
    const { email, password } = await addUser(config);
    const before = await scrape(server.health.url);
    expect(await login(basic(email, password))).toBe(200);
    expect(await login(basic(email, 'wrong'))).toBe(401);
    expect(await login()).toBe(401);
    const after = await scrape(server.health.url);
    const moved = (name: string, labels: Record<string, string>) => metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(moved('auth_logins_total', { outcome: 'success' })).toBe(1);
    expect(moved('auth_logins_total', { outcome: 'invalid_credentials' })).toBe(1);
    expect(moved('auth_logins_total', { outcome: 'missing_credentials' })).toBe(1);
    expect(moved('http_requests_total', { method: 'POST', route: '/login', status: '200' })).toBe(1);
    expect(moved('http_requests_total', { method: 'POST', route: '/login', status: '401' })).toBe(2);
    expect(moved('http_request_duration_seconds_count', { route: '/login' })).toBe(3);
    expect((await fetch(`${server.http.url}/metrics`)).status).toBe(404);
  });

  it('when MySQL goes away under an open pool and comes back, then the pool’s new connection is counted as a store reconnect', async () => {
    const target = mysqlEnv();
    const proxy = await new TcpProxy(target.MYSQL_HOST!, Number(target.MYSQL_PORT)).start();
    const viaProxy = testConfig({ ...mysqlEnv({ host: '127.0.0.1', port: proxy.port }), MYSQL_TIMEOUT_MS: '1000' });
    const flaky = await (await import('../src/server.js')).startAuthServer(viaProxy, testLogger());
    try {
      await flaky.bootstrap.start();
      const { email, password } = await addUser(viaProxy, { email: uniqueEmail() });
      const loginNow = () => fetch(`${flaky.http.url}/login`, { method: 'POST', headers: { authorization: basic(email, password) } }).then((r) => r.status);
      expect(await loginNow()).toBe(200);
      expect(metricValue(await scrape(flaky.health.url), 'store_reconnects_total', { store: 'mysql' })).toBe(0);
      await proxy.stop();
      await proxy.start();
      await waitFor(async () => (await loginNow()) === 200, { timeoutMs: 30_000, what: 'login after MySQL is back' });
      await waitFor(async () => metricValue(await scrape(flaky.health.url), 'store_reconnects_total', { store: 'mysql' }) >= 1, {
        what: 'a MySQL reconnect counted',
      });
    } finally {
      await flaky.stop();
      await proxy.stop();
    }
  });
});
