/**
 * Failed logins, limited so that guessing is slow and nobody can lock a user out:
 *
 * - per address and email: `perAccount` failures per window. A stranger guessing one user's password from
 *   their own address is stopped; the user, from any other address, is not.
 * - per address: `perAddress` failures per window, whatever the emails. Spraying one password over many
 *   emails is stopped too.
 *
 * There is deliberately no limit per email alone: failing on purpose would then lock its owner out. A correct
 * login clears its address-and-email count but not its address's, or an attacker with an account of their own
 * could log into it between guesses to keep spraying. The price: people behind one address (a NAT) share its
 * count, so heavy guessing from there slows them too, for one window at most; `perAddress` is set well above
 * `perAccount` for that reason, and a refused try is never counted, so retrying while refused does not make
 * the wait longer. Checked before the password, so a refused guess learns nothing.
 */
export interface LoginLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

export interface WindowCount {
  /** Attempts counted in the key's current window, the one just counted included. */
  attempts: number;
  /** How long the current window still runs, ms. */
  remainingMs: number;
  /** Names the window, so that an attempt is taken back only from the window it was counted in. */
  windowId: number;
}

/** Attempt counts in fixed windows, shared by every auth replica. */
export interface AttemptCounter {
  /**
   * Counts one attempt on each key, starting a new window where the old one ran out, and returns each key's
   * count. Atomic: callers counting at once each see a different count, so a burst cannot slip through.
   */
  count(keys: readonly string[], windowMs: number): Promise<Map<string, WindowCount>>;
  /** Takes back one attempt from each key, if its window is still the one named. */
  takeBack(counted: ReadonlyArray<{ key: string; windowId: number }>): Promise<void>;
  clear(key: string): Promise<void>;
}

/**
 * A login attempt that may go on to check the password. It is counted before the check (so concurrent guesses
 * cannot all pass one read of the count) and stays counted as a failure unless it is reported otherwise.
 */
export interface AllowedAttempt {
  allowed: true;
  /** The password was right: the address-and-email count starts again; this attempt is taken back. */
  succeeded(): Promise<void>;
  /** The password could not be checked (the store failed): this attempt is taken back. */
  abandoned(): Promise<void>;
}

export type LoginAttempt = AllowedAttempt | { allowed: false; retryAfterMs: number };

export const addressKey = (address: string): string => `address:${address}`;
export const accountKey = (address: string, email: string): string => `account:${address}|${email}`;

export class LoginThrottle {
  constructor(
    private readonly counter: AttemptCounter,
    private readonly limits: LoginLimits,
  ) {}

  /** Counts an attempt by this address on this email, or refuses it with how long until one is let through. */
  async begin(address: string, email: string): Promise<LoginAttempt> {
    const { perAccount, perAddress, windowMs } = this.limits;
    const account = accountKey(address, email);
    const byAddress = addressKey(address);
    const counts = await this.counter.count([account, byAddress], windowMs);
    const counted = [...counts].map(([key, { windowId }]) => ({ key, windowId }));
    const waits = [
      { count: counts.get(account), limit: perAccount },
      { count: counts.get(byAddress), limit: perAddress },
    ].flatMap(({ count, limit }) => (count && count.attempts > limit ? [count.remainingMs] : []));

    if (waits.length > 0) {
      // A refused try is not a failure. Left counted, a user retrying while their address is refused would
      // push their own address-and-email count over its limit, and be refused past the address's window.
      // When taking back fails the count stays one too high: the safe side.
      await this.counter.takeBack(counted).catch(() => undefined);
      return { allowed: false, retryAfterMs: Math.max(...waits) };
    }
    const addressCounted = counted.filter((c) => c.key === byAddress);
    return {
      allowed: true,
      succeeded: async () => {
        await Promise.all([this.counter.clear(account), this.counter.takeBack(addressCounted)]);
      },
      abandoned: () => this.counter.takeBack(counted),
    };
  }
}
