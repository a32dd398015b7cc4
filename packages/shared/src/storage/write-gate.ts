import { StorageTimeoutError } from './deadline.js';

interface Waiter {
  since: number;
  timer: NodeJS.Timeout | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Bounds the GridFS writes of one process: at most `limit` run at once, the others wait their turn in order
 * of arrival. Bounded below the driver's connection pool, so the small operations of everyone else (leases,
 * jobs, locks) always find a connection. A writer that waits holds its upload's body back (back-pressure),
 * and its time limit starts with its turn: waiting is not failing. Waiting does fail when the store makes no
 * progress: no write has finished for `stallMs` since the waiter came (or since the last one finished), which
 * is a store that is down or stalled, not one that is slow.
 */
export class WriteGate {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private lastProgress = 0;

  constructor(
    readonly limit: number,
    private readonly stallMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, not ${limit}`);
  }

  /** Writes running and waiting now. */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  /** Runs `write` in its turn; a write that succeeds counts as progress. */
  async run<T>(write: () => Promise<T>): Promise<T> {
    await this.turn();
    try {
      const done = await write();
      this.lastProgress = Date.now();
      return done;
    } finally {
      this.leave();
    }
  }

  private turn(): Promise<void> {
    if (this.active < this.limit && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { since: Date.now(), timer: undefined, resolve, reject };
      this.waiting.push(waiter);
      this.watch(waiter);
    });
  }

  /** Fails the waiter once the store has made no progress for `stallMs`; looks again at each deadline. */
  private watch(waiter: Waiter): void {
    const quietSince = Math.max(waiter.since, this.lastProgress);
    waiter.timer = setTimeout(
      () => {
        if (Date.now() - Math.max(waiter.since, this.lastProgress) < this.stallMs) return this.watch(waiter);
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        waiter.reject(new StorageTimeoutError(this.stallMs, 'waiting for a write turn (no write finished)'));
      },
      Math.max(0, quietSince + this.stallMs - Date.now()),
    );
    waiter.timer.unref();
  }

  private leave(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.active--;
      return;
    }
    clearTimeout(next.timer);
    next.resolve();
  }
}
