import { randomBytes } from 'node:crypto';
import { testLogger, uniqueEmail, uniqueName } from '@mp3converter/shared/testing';
import { inject } from 'vitest';
import { type AuthConfig, loadConfig } from '../src/config.js';
import { type AuthServer, startAuthServer } from '../src/server.js';
import { openAuthStore } from '../src/store.js';

export const JWT_SECRET = 'integration-test-secret-of-at-least-32-bytes';

/** The MYSQL_* variables for the test server, optionally through another host:port (a proxy). */
export function mysqlEnv(override?: { host: string; port: number }): Record<string, string> {
  const url = new URL(inject('servers').mysqlUrl);
  return {
    MYSQL_HOST: override?.host ?? url.hostname,
    MYSQL_PORT: String(override?.port ?? (url.port || 3306)),
    MYSQL_USER: decodeURIComponent(url.username),
    MYSQL_PASSWORD: decodeURIComponent(url.password),
  };
}

/** Config for a throwaway auth on port 0 with its own database. */
export function testConfig(extra: Record<string, string> = {}): AuthConfig {
  return loadConfig({
    ...mysqlEnv(),
    MYSQL_DB: uniqueName('auth_test'),
    JWT_SECRET,
    PORT: '0',
    HEALTH_PORT: '0',
    HOST: '127.0.0.1',
    // Every test logs in from loopback: limits a test does not set are out of the way.
    LOGIN_RATE_LIMIT: '1000',
    LOGIN_ADDRESS_RATE_LIMIT: '1000',
    ...extra,
  });
}

export async function startAuth(config: AuthConfig = testConfig()): Promise<AuthServer> {
  const server = await startAuthServer(config, testLogger('auth'));
  await server.bootstrap.start();
  return server;
}

export const basic = (email: string, password: string) => `Basic ${Buffer.from(`${email}:${password}`, 'utf8').toString('base64')}`;

/** Registers a fresh user in the service's database the way the seed and the CLI do. */
export async function addUser(
  config: AuthConfig,
  { admin = false, email = uniqueEmail(), password = randomBytes(9).toString('base64') }: { admin?: boolean; email?: string; password?: string } = {},
): Promise<{ email: string; password: string }> {
  const store = openAuthStore(config, testLogger());
  try {
    if (!(await store.auth.addUser(email, password, admin))) throw new Error(`user ${email} exists`);
  } finally {
    await store.close();
  }
  return { email, password };
}
