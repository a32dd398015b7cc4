export interface KeyUsageLimits {
  /** Requests one key may make per window on this replica, bursts included. */
  limit: number;
  windowMs: number;
  /** A key's last use is written at most this often: the store sees one write, not one per request. */
  recordEveryMs: number;
}

export type Admission = { allowed: true; record: boolean } | { allowed: false; retryAfterMs: number };

/** Keys followed before idle ones (full bucket, use recorded long enough ago) are let go. */
const PRUNE_AT = 10_000;

/**
 * What each key did lately on this replica: a token bucket (`limit` requests, refilled evenly over
 * `windowMs`) and when its use was last written. Only keys that proved their secret come here, so nobody
 * can spend another's budget by sending its id with a wrong secret.
 */
export class KeyUsage {
  private readonly keys = new Map<string, { tokens: number; at: number; recordedAt: number }>();
  private readonly perMs: number;

  constructor(
    private readonly limits: KeyUsageLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = limits.limit / limits.windowMs;
  }

  admit(id: string): Admission {
    const now = this.now();
    let key = this.keys.get(id);
    if (!key) {
      if (this.keys.size >= PRUNE_AT) this.prune(now);
      key = { tokens: this.limits.limit, at: now, recordedAt: Number.NEGATIVE_INFINITY };
      this.keys.set(id, key);
    }
    key.tokens = Math.min(this.limits.limit, key.tokens + Math.max(0, now - key.at) * this.perMs);
    key.at = now;
    if (key.tokens < 1) return { allowed: false, retryAfterMs: Math.ceil((1 - key.tokens) / this.perMs) };
    key.tokens -= 1;
    const record = now - key.recordedAt >= this.limits.recordEveryMs;
    if (record) key.recordedAt = now;
    return { allowed: true, record };
  }

  forget(id: string): void {
    this.keys.delete(id);
  }

  get size(): number {
    return this.keys.size;
  }

  private prune(now: number): void {
    for (const [id, key] of this.keys) {
      const full = key.tokens + (now - key.at) * this.perMs >= this.limits.limit;
      if (full && now - key.recordedAt >= this.limits.recordEveryMs) this.keys.delete(id);
    }
  }
}
