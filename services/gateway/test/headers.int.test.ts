import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServer } from '../../auth/src/server.js';
import { addUser, basic, startAuth, testConfig } from '../../auth/test/helpers.js';
import { type Stack, startStack } from './harness.js';

/** auth with a small limit, and two gateways in front of it: one trusting loopback as a proxy, one trusting no proxy here. */
let auth: AuthServer;
const authConfig = testConfig({ LOGIN_RATE_LIMIT: '2', LOGIN_RATE_WINDOW_SECONDS: '60' });
let trusting: Stack;
let direct: Stack;

beforeAll(async () => {
  auth = await startAuth(authConfig);
  trusting = await startStack({}, { auth, authConfig });
  direct = await startStack({ TRUST_PROXY: '10.0.0.0/8' }, { auth, authConfig });
});
afterAll(async () => {
  await direct.stop();
  await trusting.stop();
  await auth.stop();
});

const login = (stack: Stack, email: string, password: string, forwardedFor?: string) =>
  fetch(`${stack.url}/login`, {
    method: 'POST',
    headers: { authorization: basic(email, password), ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
  });

describe('the client address auth counts failed logins against', () => {
  it('when a client the gateway does not trust as a proxy forges X-Forwarded-For, then its real address is counted', async () => {
    const { email } = await addUser(authConfig);
    const statuses = [];
    for (const forged of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) statuses.push((await login(direct, email, 'wrong', forged)).status);
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('when the request comes through a proxy the gateway trusts, then the address it reports is passed on, one client each', async () => {
    const { email, password } = await addUser(authConfig);
    for (let i = 0; i < 3; i++) await login(trusting, email, 'wrong', '198.51.100.20');
    expect((await login(trusting, email, password, '198.51.100.20')).status).toBe(429);
    const other = await login(trusting, email, password, '198.51.100.21');
    expect(other.status).toBe(200);
    expect(other.headers.get('cache-control')).toBe('no-store');
  });
});

describe('headers on every response', () => {
  it('when anything is answered, errors and unknown paths included, then X-Content-Type-Options: nosniff', async () => {
    const responses = await Promise.all([
      fetch(`${trusting.url}/login`, { method: 'POST' }),
      fetch(`${trusting.url}/nowhere`),
      fetch(`${trusting.url}/status?fid=x`, { headers: { authorization: 'Bearer x' } }),
      fetch(`${trusting.url}/download`, { method: 'PUT' }),
      fetch(`${trusting.gateway.health.url}/healthz`),
      fetch(`${trusting.gateway.health.url}/nowhere`),
      fetch(`${auth.http.url}/validate`, { method: 'POST' }),
      fetch(`${auth.http.url}/nowhere`),
      fetch(`${auth.health.url}/readyz`),
    ]);
    for (const res of responses) expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
  });
});
