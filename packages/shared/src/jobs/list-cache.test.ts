import { describe, expect, it } from 'vitest';
import { JobListCache } from './list-cache.js';

describe('the job list cache', () => {
  it('when a read is kept under a version, then it answers for that version only', () => {
    const cache = new JobListCache(10);
    cache.set('ann', 'page:3', 'v1', ['a', 'b']);
    expect(cache.get('ann', 'page:3', 'v1')).toEqual(['a', 'b']);
    expect(cache.get('ann', 'page:3', 'v2')).toBeUndefined();
    // Read under another version once, it is gone for the first too: a version never comes back.
    expect(cache.get('ann', 'page:3', 'v1')).toBeUndefined();
  });

  it('when two owners have the same key, then neither sees the other’s', () => {
    const cache = new JobListCache(10);
    cache.set('ann', 'head', 'v', 40);
    cache.set('bob', 'head', 'v', 3);
    expect(cache.get('ann', 'head', 'v')).toBe(40);
    expect(cache.get('bob', 'head', 'v')).toBe(3);
    // An owner whose name ends where another key begins is still another owner.
    cache.set('ann\0head', 'x', 'v', 1);
    expect(cache.get('ann', 'head\0x', 'v')).toBeUndefined();
  });

  it('when an entry is older than the longest it may be kept, then it is read again whatever its version', () => {
    let now = 1_000;
    const cache = new JobListCache(10, 60_000, () => now);
    cache.set('ann', 'any:2', '', true);
    now += 60_000;
    expect(cache.get('ann', 'any:2', '')).toBe(true);
    now += 1;
    expect(cache.get('ann', 'any:2', '')).toBeUndefined();
  });

  it('when it holds its most, then the entry used longest ago goes first', () => {
    const cache = new JobListCache(2);
    cache.set('ann', 'a', 'v', 1);
    cache.set('ann', 'b', 'v', 2);
    cache.get('ann', 'a', 'v');
    cache.set('ann', 'c', 'v', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('ann', 'b', 'v')).toBeUndefined();
    expect(cache.get('ann', 'a', 'v')).toBe(1);
    expect(cache.get('ann', 'c', 'v')).toBe(3);
  });

  it('when it may hold nothing, then nothing is kept', () => {
    const cache = new JobListCache(0);
    cache.set('ann', 'head', 'v', 1);
    expect(cache.size).toBe(0);
    expect(cache.get('ann', 'head', 'v')).toBeUndefined();
  });
});
