import { describe, expect, it } from 'vitest';
import { JobListCache } from './list-cache.js';

describe('the job list cache', () => {
  it('when a read is kept under a version, then it answers for that version only', () => {
    const cache = new JobListCache(10_000);
    cache.set('ann', 'page:3', 'v1', ['a', 'b']);
    expect(cache.get('ann', 'page:3', 'v1')).toEqual(['a', 'b']);
    expect(cache.get('ann', 'page:3', 'v2')).toBeUndefined();
    // Read under another version once, it is gone for the first too: a version never comes back.
    expect(cache.get('ann', 'page:3', 'v1')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('when two owners have the same key, then neither sees the other’s, whatever their names hold', () => {
    const cache = new JobListCache(10_000);
    cache.set('ann', 'head', 'v', 40);
    cache.set('bob', 'head', 'v', 3);
    expect(cache.get('ann', 'head', 'v')).toBe(40);
    expect(cache.get('bob', 'head', 'v')).toBe(3);
    cache.set('ann","head', 'x', 'v', 1);
    expect(cache.get('ann', 'head","x', 'v')).toBeUndefined();
  });

  it('when an entry is older than the longest it may be kept, then it is read again whatever its version', () => {
    let now = 1_000;
    const cache = new JobListCache(10_000, 60_000, () => now);
    cache.set('ann', 'any:2', '', true);
    now += 60_000;
    expect(cache.get('ann', 'any:2', '')).toBe(true);
    now += 1;
    expect(cache.get('ann', 'any:2', '')).toBeUndefined();
  });

  it('when it holds its weight, then the entries used longest ago go first', () => {
    const page = Array.from({ length: 5 }, () => ({ title: 'x'.repeat(100) }));
    const cache = new JobListCache(8_000);
    for (let i = 0; i < 12; i++) cache.set('ann', `page:${i}`, 'v', page);
    cache.get('ann', 'page:0', 'v');
    cache.set('ann', 'page:12', 'v', page);
    cache.set('ann', 'page:13', 'v', page);
    expect(cache.size.bytes).toBeLessThanOrEqual(8_000);
    expect(cache.get('ann', 'page:1', 'v')).toBeUndefined();
    expect(cache.get('ann', 'page:0', 'v')).toBeDefined();
    expect(cache.get('ann', 'page:13', 'v')).toBeDefined();
  });

  it('when one entry alone weighs more than an eighth of the whole, or the cache may hold nothing, then it is not kept', () => {
    const cache = new JobListCache(8_000);
    cache.set('ann', 'small', 'v', 'x'.repeat(900));
    cache.set('ann', 'big', 'v', 'x'.repeat(1_000));
    expect(cache.get('ann', 'small', 'v')).toBeDefined();
    expect(cache.get('ann', 'big', 'v')).toBeUndefined();
    const none = new JobListCache(0);
    none.set('ann', 'head', 'v', 1);
    expect(none.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('when a kept value is handed out, then nobody can change it for the next listing', () => {
    const cache = new JobListCache(10_000);
    cache.set('ann', 'page:1', 'v', [{ options: { bitrate: 128 } }]);
    const kept = cache.get('ann', 'page:1', 'v') as { options: { bitrate: number } }[];
    expect(() => {
      kept[0]!.options.bitrate = 320;
    }).toThrow(TypeError);
    expect(cache.get('ann', 'page:1', 'v')).toEqual([{ options: { bitrate: 128 } }]);
  });
});
