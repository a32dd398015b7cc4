import { describe, expect, it } from 'vitest';
import { captureLogger } from '../testing/index.js';
import { ShutdownRegistry, backoffMs } from './index.js';

describe('ShutdownRegistry', () => {
  it('when shut down twice, then each step runs once, in order, and exit is called once', async () => {
    const calls: string[] = [];
    const exits: number[] = [];
    const registry = new ShutdownRegistry({ deadlineMs: 1000, logger: captureLogger().logger, exit: (c) => exits.push(c) });
    registry.register('intake', () => void calls.push('intake')).register('stores', async () => void calls.push('stores'));
    await Promise.all([registry.shutdown('SIGTERM'), registry.shutdown('SIGINT')]);
    expect(calls).toEqual(['intake', 'stores']);
    expect(exits).toEqual([0]);
  });

  it('when a step throws, then later steps still run and the exit code is 1', async () => {
    const calls: string[] = [];
    const exits: number[] = [];
    const registry = new ShutdownRegistry({ deadlineMs: 1000, logger: captureLogger().logger, exit: (c) => exits.push(c) });
    registry.register('bad', () => {
      throw new Error('boom');
    });
    registry.register('good', () => void calls.push('good'));
    await registry.shutdown('test');
    expect(calls).toEqual(['good']);
    expect(exits).toEqual([1]);
  });

  it('when a step outlives the deadline, then the process exits anyway with 1', async () => {
    const exits: number[] = [];
    const { logger, lines } = captureLogger();
    const registry = new ShutdownRegistry({ deadlineMs: 50, logger, exit: (c) => exits.push(c) });
    registry.register('stuck', () => new Promise(() => {}));
    await registry.shutdown('test');
    expect(exits).toEqual([1]);
    expect(lines().some((l) => l.msg === 'shutdown deadline passed, exiting anyway')).toBe(true);
  });
});

describe('backoffMs', () => {
  it('when attempts grow, then the delay grows within the cap', () => {
    for (let attempt = 1; attempt < 20; attempt++) {
      const ms = backoffMs(attempt, 100, 1000);
      const ceiling = Math.min(1000, 100 * 2 ** (attempt - 1));
      expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
      expect(ms).toBeLessThanOrEqual(ceiling);
    }
  });
});
