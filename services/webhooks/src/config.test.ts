import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('webhooks config', () => {
  it('when nothing is set, then inside addresses stay refused, the usual ports are allowed, and retries span most of a day', () => {
    const c = loadConfig({});
    expect(c.destinations).toEqual({
      allow: [],
      block: [],
      ports: [
        [80, 80],
        [443, 443],
        [1024, 65535],
      ],
    });
    expect(c.WEBHOOK_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(c.WEBHOOK_MAX_AGE_MS);
    expect(c.HOST).toBe('127.0.0.1');
    expect(c.MAX_ATTEMPTS).toBe(4);
  });

  it("when a deployment allows its own receivers and refuses the cluster's ranges, then both lists are read", () => {
    const c = loadConfig({ WEBHOOK_ALLOWED_DESTINATIONS: '127.0.0.1, 10.8.0.0/16', WEBHOOK_BLOCKED_DESTINATIONS: '34.118.224.0/20,2600:1900::/28' });
    expect(c.destinations.allow).toEqual(['127.0.0.1', '10.8.0.0/16']);
    expect(c.destinations.block).toEqual(['34.118.224.0/20', '2600:1900::/28']);
  });

  it('when a range, a port list or the timeout is wrong, then start-up is refused naming every bad key', () => {
    expect(() => loadConfig({ WEBHOOK_ALLOWED_DESTINATIONS: 'localhost', WEBHOOK_BLOCKED_DESTINATIONS: '10.0.0.0/33', WEBHOOK_ALLOWED_PORTS: '0-80' })).toThrow(
      /WEBHOOK_ALLOWED_DESTINATIONS.*\n.*WEBHOOK_BLOCKED_DESTINATIONS.*\n.*WEBHOOK_ALLOWED_PORTS/s,
    );
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '30000', SHUTDOWN_TIMEOUT_MS: '20000' })).toThrow(/WEBHOOK_TIMEOUT_MS/);
  });
});
