import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { captureLogger } from '../testing/index.js';
import { HeartbeatWatch, type MonitoredClient } from './heartbeat-watch.js';

const ADDRESS = '127.0.0.1:27017';
const STUCK_MS = 60_000;

/** A client whose monitoring events the test sends, and which records being closed and connected again. */
class FakeClient extends EventEmitter implements MonitoredClient {
  readonly calls: string[] = [];
  /** How many connects fail before one succeeds. */
  failingConnects = 0;

  /** Called as a connect begins (before it ends). */
  onConnect: () => void = () => undefined;

  async close(): Promise<void> {
    this.calls.push('close');
    // As the driver does when a connect fails or the client is closed.
    this.emit('topologyClosed');
  }

  async connect(): Promise<unknown> {
    this.calls.push('connect');
    this.onConnect();
    if (this.failingConnects > 0) {
      this.failingConnects--;
      // As the driver does: a connect that fails closes the topology it made.
      this.emit('topologyClosed');
      throw new Error('connect ECONNREFUSED 127.0.0.1:27017');
    }
    return this;
  }

  heartbeat(event: 'serverHeartbeatStarted' | 'serverHeartbeatSucceeded' | 'serverHeartbeatFailed') {
    this.emit(event, { connectionId: ADDRESS });
  }
}

function watched() {
  let now = 1_000_000;
  const client = new FakeClient();
  const { logger, lines } = captureLogger();
  const watch = new HeartbeatWatch(client, logger, STUCK_MS, () => now, 1);
  /** The log lines at `level` whose message holds `text`. */
  const said = (level: string, text: string) => lines().filter((l) => l.level === level && String(l.msg).includes(text));
  return { client, lines, said, watch, advance: (ms: number) => (now += ms) };
}

describe('HeartbeatWatch', () => {
  it('when a heartbeat stays unanswered past the bound, then the client is closed and connected again, and the log says why', async () => {
    const { client, lines, watch, advance } = watched();
    client.heartbeat('serverHeartbeatStarted');
    advance(STUCK_MS - 1);
    await watch.check();
    expect(client.calls).toEqual([]);
    advance(1);
    await watch.check();
    expect(client.calls).toEqual(['close', 'connect']);
    const error = lines().find((l) => l.level === 'error');
    expect(error).toMatchObject({ address: ADDRESS, unansweredMs: STUCK_MS });
    expect(String(error?.msg)).toMatch(/hung monitor/);
    // The new monitor's heartbeats are watched as before; the old one is forgotten.
    await watch.check();
    expect(client.calls).toEqual(['close', 'connect']);
    watch.stop();
  });

  it('when heartbeats are answered, succeeded or failed, then nothing is done however long the client lives', async () => {
    const { client, watch, advance } = watched();
    for (let i = 0; i < 10; i++) {
      client.heartbeat('serverHeartbeatStarted');
      advance(5_000);
      client.heartbeat(i % 2 ? 'serverHeartbeatFailed' : 'serverHeartbeatSucceeded');
      advance(STUCK_MS);
      await watch.check();
    }
    expect(client.calls).toEqual([]);
    watch.stop();
  });

  it('when the server does not answer the reconnect, then the watch tries again until the client connects', async () => {
    const { client, said, watch, advance } = watched();
    client.failingConnects = 3;
    client.heartbeat('serverHeartbeatStarted');
    advance(STUCK_MS);
    await watch.check();
    expect(client.calls).toEqual(['close', 'connect', 'connect', 'connect', 'connect']);
    expect(said('warn', 'not reconnected yet')).toHaveLength(3);
    expect(said('info', 'reconnected')).not.toHaveLength(0);
    watch.stop();
  });

  it('when the owner stops the watch, even during a reconnect, then the client is left closed and never connected again', async () => {
    const { client, watch, advance } = watched();
    client.failingConnects = 1_000;
    client.onConnect = () => {
      if (client.calls.filter((c) => c === 'connect').length === 3) watch.stop();
    };
    client.heartbeat('serverHeartbeatStarted');
    advance(STUCK_MS);
    await watch.check();
    expect(client.calls).toEqual(['close', 'connect', 'connect', 'connect']);
    client.heartbeat('serverHeartbeatStarted');
    advance(STUCK_MS);
    await watch.check();
    expect(client.calls).toHaveLength(4);
  });

  it('when a connect succeeds after the owner stopped the watch, then the watch closes the client again', async () => {
    const { client, watch, advance } = watched();
    client.onConnect = () => watch.stop();
    client.heartbeat('serverHeartbeatStarted');
    advance(STUCK_MS);
    await watch.check();
    expect(client.calls).toEqual(['close', 'connect', 'close']);
  });

  it('when the driver closes a server whose heartbeat was under way, then that heartbeat is not taken for a hung one', async () => {
    const { client, watch, advance } = watched();
    client.heartbeat('serverHeartbeatStarted');
    client.emit('serverClosed', { address: ADDRESS });
    advance(STUCK_MS * 2);
    await watch.check();
    expect(client.calls).toEqual([]);
    watch.stop();
  });

  it('when the driver closes the topology of a connect that failed, then the watch connects the client again until it connects, and still watches', async () => {
    const { client, said, watch, advance } = watched();
    client.failingConnects = 2;
    // The first operation's connect failed (the store not answering yet): the driver keeps a closed topology.
    client.emit('topologyClosed');
    await vi.waitFor(() => expect(said('info', 'reconnected')).not.toHaveLength(0));
    expect(client.calls).toEqual(['connect', 'connect', 'connect']);
    expect(said('warn', 'not reconnected yet')).toHaveLength(2);
    client.heartbeat('serverHeartbeatStarted');
    advance(STUCK_MS);
    await watch.check();
    expect(client.calls).toEqual(['connect', 'connect', 'connect', 'close', 'connect']);
    watch.stop();
  });

  it('when the owner closes the client, then the watch connects nothing again', async () => {
    const { client, watch } = watched();
    watch.stop();
    await client.close();
    expect(client.calls).toEqual(['close']);
  });
});
