import { describe, expect, it } from 'vitest';
import { Readiness } from './index.js';

describe('Readiness', () => {
  it('when every check passes, then ready', async () => {
    const r = new Readiness().add('a', async () => {}).add('b', async () => {});
    expect(await r.report()).toEqual({ ready: true, checks: { a: 'ok', b: 'ok' } });
  });

  it('when a check fails or hangs, then not ready with its reason', async () => {
    const r = new Readiness(50)
      .add('down', async () => {
        throw new Error('connection refused');
      })
      .add('stuck', () => new Promise(() => {}));
    expect(await r.report()).toEqual({ ready: false, checks: { down: 'connection refused', stuck: 'stuck check timed out' } });
  });

  it('when shutting down, then not ready whatever the checks say', async () => {
    const r = new Readiness().add('a', async () => {});
    r.markShuttingDown();
    expect((await r.report()).ready).toBe(false);
  });
});
