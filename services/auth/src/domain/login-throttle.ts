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
 * `perAccount` for that reason. Checked before the password, so a blocked guess learns nothing.
 */
export interface LoginLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

/** Failure counts in fixed windows, shared by every auth replica. */
export interface FailureCounter {
  /** The counts of `keys` in their current windows, with how long each window still runs. */
  read(keys: readonly string[], windowMs: number): Promise<Map<string, { failures: number; remainingMs: number }>>;
  /** One more failure on each key, starting a new window where the old one ran out. */
  increment(keys: readonly string[], windowMs: number): Promise<void>;
  reset(key: string): Promise<void>;
}

export const addressKey = (address: string): string => `address:${address}`;
export const accountKey = (address: string, email: string): string => `account:${address}|${email}`;

export class LoginThrottle {
  constructor(
    private readonly counter: FailureCounter,
    private readonly limits: LoginLimits,
  ) {}

  /** How long until this address may try this email again; undefined when it may now. */
  async blockedFor(address: string, email: string): Promise<number | undefined> {
    const { perAccount, perAddress, windowMs } = this.limits;
    const account = accountKey(address, email);
    const byAddress = addressKey(address);
    const counts = await this.counter.read([account, byAddress], windowMs);
    const waits = [
      [counts.get(account), perAccount],
      [counts.get(byAddress), perAddress],
    ]
      .filter(([count, limit]) => count !== undefined && (count as { failures: number }).failures >= (limit as number))
      .map(([count]) => (count as { remainingMs: number }).remainingMs);
    return waits.length > 0 ? Math.max(...waits) : undefined;
  }

  failed(address: string, email: string): Promise<void> {
    return this.counter.increment([accountKey(address, email), addressKey(address)], this.limits.windowMs);
  }

  succeeded(address: string, email: string): Promise<void> {
    return this.counter.reset(accountKey(address, email));
  }
}
