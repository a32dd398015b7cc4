/** A MongoDB operation that did not answer within its deadline: the server hangs or the network drops packets. */
export class StorageTimeoutError extends Error {
  /** What did not answer, as the log line names it. */
  readonly operation: string;

  constructor(
    readonly timeoutMs: number,
    what = 'MongoDB operation',
  ) {
    super(`${what} did not answer within ${timeoutMs} ms`);
    this.name = 'StorageTimeoutError';
    this.operation = what;
  }
}

/**
 * Runs a MongoDB operation with a deadline. The driver gives none that fits: its client-side operation
 * timeout (`timeoutMS`) is a no-op in mongodb 6.x, `socketTimeoutMS` is minutes, and a silent server is
 * otherwise noticed only when the driver's monitor gives up on it (heartbeat + connect timeout, 5 to 20 s).
 * Reads get the signal, so the driver closes the connection they hang on; a write (which takes no signal) is
 * abandoned at the deadline and ends with its connection once the monitor gives the server up.
 */
export async function withDeadline<T>(ms: number, op: (signal: AbortSignal) => Promise<T>, what?: string): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new StorageTimeoutError(ms, what);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([op(controller.signal), deadline]);
  } catch (err) {
    // The failure names what it was doing, for the log line of the answer it becomes.
    if (what && err instanceof Error && !('operation' in err)) Object.assign(err, { operation: what });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
