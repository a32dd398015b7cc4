import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../testing/index.js';
import { parseMetrics, metricValue } from '../testing/metrics.js';
import { type BrokerLike, createRegistry, instrumentBroker, instrumentMongo, settleMetrics } from './index.js';

class FakeBroker extends EventEmitter implements BrokerLike {
  connected = false;
  asked = 0;
  depths: Record<string, { messageCount: number; consumerCount: number }> = {};
  async inspectQueues(queues: readonly string[]) {
    this.asked++;
    return queues.filter((q) => this.depths[q]).map((queue) => ({ queue, ...this.depths[queue]! }));
  }
}

const read = async (registry: ReturnType<typeof createRegistry>) => parseMetrics(await registry.metrics());

describe('broker metrics', () => {
  it('when the broker connects, drops and connects again, then one reconnect is counted, not the first connection', async () => {
    const registry = createRegistry();
    const broker = new FakeBroker();
    instrumentBroker(registry, broker, []);
    broker.emit('connected');
    expect(metricValue(await read(registry), 'broker_reconnects_total')).toBe(0);
    broker.emit('disconnected');
    broker.emit('connected');
    expect(metricValue(await read(registry), 'broker_reconnects_total')).toBe(1);
  });

  it('when scraped, then the depth of each known queue is asked of the broker once for both gauges, and unknown queues are left out', async () => {
    const registry = createRegistry();
    const broker = new FakeBroker();
    broker.connected = true;
    broker.depths = { video: { messageCount: 7, consumerCount: 2 } };
    instrumentBroker(registry, broker, ['video', 'missing']);
    const samples = await read(registry);
    expect(metricValue(samples, 'queue_messages', { queue: 'video' })).toBe(7);
    expect(metricValue(samples, 'queue_consumers', { queue: 'video' })).toBe(2);
    expect(samples.some((s) => s.labels.queue === 'missing')).toBe(false);
    expect(metricValue(samples, 'broker_connected')).toBe(1);
    expect(broker.asked).toBe(1);
    broker.depths = { video: { messageCount: 3, consumerCount: 1 } };
    await waitFor(async () => metricValue(await read(registry), 'queue_messages', { queue: 'video' }) === 3, { what: 'a later scrape to ask again' });
  });

  it('when disconnected, then no depth is reported and the broker is not asked', async () => {
    const registry = createRegistry();
    const broker = new FakeBroker();
    instrumentBroker(registry, broker, ['video']);
    const samples = await read(registry);
    expect(samples.filter((s) => s.name === 'queue_messages')).toEqual([]);
    expect(metricValue(samples, 'broker_connected')).toBe(0);
    expect(broker.asked).toBe(0);
  });
});

describe('store and settle metrics', () => {
  it('when MongoDB loses a connection to an error or clears a pool, then the next connection made ready is one reconnect; the first ones are not', async () => {
    const registry = createRegistry();
    const client = new EventEmitter();
    instrumentMongo(registry, client);
    const reconnects = async () => metricValue(await read(registry), 'store_reconnects_total', { store: 'mongodb' });
    client.emit('connectionReady', { address: 'a:27017' });
    client.emit('connectionClosed', { address: 'a:27017', reason: 'idle' });
    client.emit('connectionReady', { address: 'a:27017' });
    expect(await reconnects()).toBe(0);
    client.emit('connectionClosed', { address: 'a:27017', reason: 'error' });
    client.emit('connectionReady', { address: 'a:27017' });
    client.emit('connectionReady', { address: 'a:27017' });
    expect(await reconnects()).toBe(1);
    client.emit('connectionPoolCleared', { address: 'a:27017' });
    client.emit('connectionReady', { address: 'a:27017' });
    expect(await reconnects()).toBe(2);
  });

  it('when two registries count, then neither sees the other: one registry per app', async () => {
    const a = createRegistry();
    const b = createRegistry();
    settleMetrics(a).settled('video', 'retry');
    expect(metricValue(await read(a), 'queue_messages_settled_total', { queue: 'video', outcome: 'retry' })).toBe(1);
    expect(metricValue(await read(b), 'queue_messages_settled_total')).toBe(0);
  });
});
