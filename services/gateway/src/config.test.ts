import { KNOWN_DEFAULT_SECRETS } from '@mp3converter/shared/config';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const good = { DOWNLOAD_LINK_SECRET: 'l'.repeat(32) };

describe('gateway config', () => {
  it.each([...KNOWN_DEFAULT_SECRETS])('when DOWNLOAD_LINK_SECRET is the published default %j in production, then start-up is refused', (secret) => {
    expect(() => loadConfig({ DOWNLOAD_LINK_SECRET: secret })).toThrow(/DOWNLOAD_LINK_SECRET: is a published development default/);
    expect(loadConfig({ DOWNLOAD_LINK_SECRET: secret, NODE_ENV: 'development' }).DOWNLOAD_LINK_SECRET).toBe(secret);
  });

  it('when HOST is not set, then the public and probe ports are bound to loopback only', () => {
    expect(loadConfig(good).HOST).toBe('127.0.0.1');
    expect(loadConfig({ ...good, HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });
});
