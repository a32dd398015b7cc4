import { ConfigError, KNOWN_DEFAULT_SECRETS } from '@mp3converter/shared/config';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const good = { JWT_SECRET: 'k'.repeat(32), MYSQL_HOST: 'mysql' };

describe('auth config', () => {
  it('when only the secret and host are given, then the original defaults apply', () => {
    const c = loadConfig(good);
    expect(c).toMatchObject({ PORT: 5000, MYSQL_PORT: 3306, MYSQL_DB: 'auth', MYSQL_USER: 'auth_user', JWT_TTL_SECONDS: 86_400 });
  });

  it('when the secret is shorter than 32 bytes in production, then start-up is refused with a clear message', () => {
    expect(() => loadConfig({ ...good, JWT_SECRET: 'sarcasm' })).toThrow(/JWT_SECRET: must be at least 32 bytes/);
  });

  it('when the short secret is used in development, then it is accepted', () => {
    expect(loadConfig({ ...good, JWT_SECRET: 'sarcasm', NODE_ENV: 'development' }).JWT_SECRET).toBe('sarcasm');
  });

  it.each([...KNOWN_DEFAULT_SECRETS])('when JWT_SECRET is the published default %j outside development, then start-up is refused', (secret) => {
    for (const NODE_ENV of ['production', 'test']) {
      expect(() => loadConfig({ ...good, NODE_ENV, JWT_SECRET: secret })).toThrow(/JWT_SECRET: is a published development default/);
    }
    expect(loadConfig({ ...good, NODE_ENV: 'development', JWT_SECRET: secret }).JWT_SECRET).toBe(secret);
  });

  it("when the seed user's password is the original's published one outside development, then start-up is refused", () => {
    const seed = { ...good, SEED_USER_EMAIL: 'georgio@email.com', SEED_USER_PASSWORD: 'Admin123' };
    expect(() => loadConfig(seed)).toThrow(/SEED_USER_PASSWORD: is a published development default/);
    expect(loadConfig({ ...seed, NODE_ENV: 'development' }).SEED_USER_PASSWORD).toBe('Admin123');
  });

  it('when HOST is not set, then the ports are bound to loopback only', () => {
    expect(loadConfig(good).HOST).toBe('127.0.0.1');
    expect(loadConfig({ ...good, HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('when several keys are bad, then all are reported at once', () => {
    try {
      loadConfig({ MYSQL_PORT: 'abc', PORT: '99999', SEED_USER_EMAIL: 'nope' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const keys = (err as ConfigError).problems.map((p) => p.split(':')[0]);
      expect(keys).toEqual(expect.arrayContaining(['JWT_SECRET', 'MYSQL_PORT', 'PORT', 'SEED_USER_EMAIL']));
    }
  });

  it('when a key is set to an empty string, then its default applies', () => {
    expect(loadConfig({ ...good, MYSQL_PORT: '' }).MYSQL_PORT).toBe(3306);
  });

  it('when the seed email comes without a password, then it is refused', () => {
    expect(() => loadConfig({ ...good, SEED_USER_EMAIL: 'a@b.c' })).toThrow(/SEED_USER_PASSWORD/);
  });
});
