import { describe, expect, it } from 'vitest';
import { SETTLE_ALLOWANCE_MS, loadConfig, longestJobMs } from './config.js';

describe('converter config', () => {
  it('when HOST is not set, then the probe port is bound to loopback only', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('when nothing is set, then the longest job fits inside the broker’s consumer timeout, and one attempt per retry delay plus one', () => {
    const c = loadConfig({});
    expect(c.FFMPEG_TIMEOUT_MS + 2 * c.FFPROBE_TIMEOUT_MS + 2 * c.TRANSFER_TIMEOUT_MS + SETTLE_ALLOWANCE_MS).toBeLessThan(c.BROKER_CONSUMER_TIMEOUT_MS);
    expect(longestJobMs(c)).toBeLessThan(c.BROKER_CONSUMER_TIMEOUT_MS);
    expect(c.MAX_ATTEMPTS).toBe(c.RETRY_DELAYS_MS.length + 1);
  });

  it('when the ffmpeg limit would outlast the broker’s consumer timeout, then start-up is refused, naming both', () => {
    expect(() => loadConfig({ FFMPEG_TIMEOUT_MS: '3600000' })).toThrow(/FFMPEG_TIMEOUT_MS.*BROKER_CONSUMER_TIMEOUT_MS/);
  });

  it('when the phases fit but leave no time to settle the delivery, then start-up is refused too', () => {
    const c = loadConfig({});
    const phasesOnly = c.BROKER_CONSUMER_TIMEOUT_MS - 2 * c.FFPROBE_TIMEOUT_MS - 2 * c.TRANSFER_TIMEOUT_MS - 1_000;
    expect(() => loadConfig({ FFMPEG_TIMEOUT_MS: String(phasesOnly) })).toThrow(/BROKER_CONSUMER_TIMEOUT_MS/);
    expect(() => loadConfig({ FFMPEG_TIMEOUT_MS: String(phasesOnly - SETTLE_ALLOWANCE_MS) })).not.toThrow();
  });

  it('when the stall limit is shorter than a probe may take, then start-up is refused', () => {
    expect(() => loadConfig({ STALL_TIMEOUT_MS: '30000', FFPROBE_TIMEOUT_MS: '60000' })).toThrow(/STALL_TIMEOUT_MS/);
  });
});
