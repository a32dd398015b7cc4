import type { Logger } from '../logger/index.js';

/**
 * How long a heartbeat of the driver's server monitor may stay unanswered before the client is taken to be
 * stuck: far past the longest a healthy one takes (a connect and a handshake, connectTimeoutMS each; on
 * MongoDB a streamed hello waits up to heartbeatFrequencyMS, 10 s, for news).
 */
export const HEARTBEAT_STUCK_MS = 60_000;

/** The part of a MongoClient the watch uses: its monitoring events, and closing and connecting it again. */
export interface MonitoredClient {
  on(event: 'serverHeartbeatStarted' | 'serverHeartbeatSucceeded' | 'serverHeartbeatFailed', listener: (event: { connectionId: string }) => void): unknown;
  on(event: 'serverClosed', listener: (event: { address: string }) => void): unknown;
  on(event: 'topologyClosed', listener: () => void): unknown;
  close(): Promise<void>;
  connect(): Promise<unknown>;
}

/** Between attempts to connect the client again (a hung monitor, a closed topology) while the server does not answer. */
const RECONNECT_RETRY_MS = 2_000;

/**
 * Watches the driver's server monitor and reconnects a client whose monitor hangs, or whose connection the
 * driver closed without its owner asking.
 *
 * The Node driver (6.22, and 7.9 the same) can lose its monitor for good when the server closes the
 * monitor's connection just as a heartbeat is being written: the write waits for the socket's `drain`, which a
 * destroyed socket never emits, and no error reaches it. The server then stays "Unknown", the pool paused,
 * and every operation fails server selection, although the server answers again: a gateway stayed at 503
 * after its FerretDB restarted, with no connection to it at all. The watch looks every `stuckMs / 4` for a
 * heartbeat unanswered for `stuckMs`, logs it, and closes and connects the client again (until it connects),
 * which starts a new monitor. Operations started in between fail as the store being unavailable (503, or
 * retried) rather than wait. Its owner calls `stop` before closing the client for good (createMongoClient
 * does so in the client's `close`).
 *
 * The driver (6.22) also gives up on a client whose first connect failed (the store not answering, or its
 * name not resolving yet, when the first operation is made): it closes the topology and keeps it, so every
 * later operation fails with "Topology is closed" however soon the store answers; a converter whose pod
 * started before the cluster's DNS stayed unready for good. A topology closed while neither the owner nor the
 * watch closed it is connected again the same way.
 */
export class HeartbeatWatch {
  /** When each unanswered heartbeat started, by server address. */
  private readonly pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private reconnecting = false;
  private stopped = false;

  constructor(
    private readonly client: MonitoredClient,
    private readonly logger: Logger,
    private readonly stuckMs = HEARTBEAT_STUCK_MS,
    private readonly now: () => number = Date.now,
    private readonly retryMs = RECONNECT_RETRY_MS,
  ) {
    client.on('serverHeartbeatStarted', (e) => this.pending.set(e.connectionId, this.now()));
    client.on('serverHeartbeatSucceeded', (e) => this.pending.delete(e.connectionId));
    client.on('serverHeartbeatFailed', (e) => this.pending.delete(e.connectionId));
    // A server the driver closes (a member gone from a replica set) may leave its last heartbeat unanswered.
    client.on('serverClosed', (e) => this.pending.delete(e.address));
    client.on('topologyClosed', () => {
      if (this.reconnecting || this.stopped) return;
      this.logger.warn({}, 'MongoDB client: the driver closed its connection (a connect that failed); connecting again until the store answers');
      this.reconnect('the connection the driver closed', { close: false }).catch((err: unknown) =>
        this.logger.error({ err }, 'MongoDB client: connecting again after the driver closed it failed'),
      );
    });
    this.timer = setInterval(
      () => {
        this.check().catch((err: unknown) => this.logger.error({ err }, 'MongoDB client: reconnecting after a hung monitor failed'));
      },
      Math.max(1, Math.floor(stuckMs / 4)),
    );
    this.timer.unref();
  }

  /** Looks for a heartbeat unanswered for too long; reconnects the client if there is one. */
  async check(): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    const now = this.now();
    const stuck = [...this.pending].find(([, since]) => now - since >= this.stuckMs);
    if (!stuck) return;
    const [address, since] = stuck;
    this.logger.error(
      { address, unansweredMs: now - since },
      'MongoDB driver: its server monitor has had no answer to a heartbeat for too long (a hung monitor); reconnecting the client',
    );
    await this.reconnect(`a hung monitor of ${address}`, { close: true });
  }

  /** Closes the client (when asked) and connects it again, until it connects or the watch is stopped. */
  private async reconnect(after: string, { close }: { close: boolean }): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    this.reconnecting = true;
    try {
      if (close) await this.client.close();
      this.pending.clear();
      while (!this.stopped) {
        try {
          await this.client.connect();
          // Stopped while connecting: the owner closed the client meanwhile, and wants it closed.
          if (this.stopped) await this.client.close();
          else this.logger.info({ after }, `MongoDB client reconnected after ${after}`);
          return;
        } catch (err) {
          // The server does not answer yet: the client stays closed, so the watch tries again.
          this.logger.warn({ err, after }, `MongoDB client not reconnected yet after ${after}`);
          await new Promise((resolve) => setTimeout(resolve, this.retryMs).unref());
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  /** Stops watching, and any reconnect under way: the owner is closing the client for good. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
