import { createLogger } from '@mp3converter/shared/logger';
import type { Attempt, ClaimedDelivery, NextStep } from '@mp3converter/shared/webhooks';
import { newSigningSecret } from '@mp3converter/shared/webhooks';
import { captureLogger, waitFor } from '@mp3converter/shared/testing';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryDispatcher } from './dispatcher.js';
import type { DeliveryOutbox, OutgoingRequest, SendResult, Sender } from './ports.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const secret = newSigningSecret();

/** Deliveries in memory, claimable when due and not leased, as the store does it. */
class MemoryOutbox implements DeliveryOutbox {
  readonly recorded: { id: string; attempt: Attempt; next: NextStep }[] = [];
  private readonly due: ClaimedDelivery[] = [];
  claims = 0;

  add(id: string, payload = '{"type":"job.done"}'): void {
    this.due.push({
      id,
      endpointId: 'ep_1',
      token: `t-${id}`,
      url: 'https://hooks.test/in',
      secrets: [secret],
      payload,
      seriesAttempts: 0,
      seriesStartedAt: new Date(),
    });
  }

  async claimDue(): Promise<ClaimedDelivery | undefined> {
    this.claims++;
    return this.due.shift();
  }

  async recordAttempt(claim: ClaimedDelivery, attempt: Attempt, next: NextStep): Promise<boolean> {
    this.recorded.push({ id: claim.id, attempt, next });
    return true;
  }
}

/** A receiver that answers what it is told, and can hold its answers back. */
class FakeSender implements Sender {
  readonly requests: OutgoingRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private release: (() => void)[] = [];
  hold = false;

  constructor(private readonly answer: (r: OutgoingRequest) => SendResult) {}

  async send(request: OutgoingRequest): Promise<SendResult> {
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.hold) await new Promise<void>((r) => this.release.push(r));
    this.inFlight--;
    return this.answer(request);
  }

  letGo(): void {
    this.hold = false;
    for (const r of this.release.splice(0)) r();
  }
}

const ok: SendResult = { kind: 'answered', status: 204, durationMs: 3, excerpt: '', retryAfterMs: null };
const counts = () => {
  const seen: string[] = [];
  return { seen, metrics: { attempted: (o: string) => void seen.push(`attempt:${o}`), settled: (r: string) => void seen.push(r) } };
};
const options = { concurrency: 2, leaseMs: 60_000, pollIntervalMs: 60_000, policy: { delaysMs: [1000], maxAgeMs: 86_400_000 }, userAgent: 'test/1' };

let running: DeliveryDispatcher | undefined;
afterEach(async () => {
  await running?.stop(1_000);
  running = undefined;
});

describe('the delivery dispatcher', () => {
  it('when a delivery is due, then it is sent signed (verified by the reference library) and its attempt recorded', async () => {
    const outbox = new MemoryOutbox();
    outbox.add('msg_1');
    const sender = new FakeSender(() => ok);
    const { seen, metrics } = counts();
    running = new DeliveryDispatcher(outbox, sender, options, metrics, logger);
    running.start();
    await waitFor(() => outbox.recorded.length === 1);
    const [request] = sender.requests;
    expect(request!.headers).toMatchObject({ 'content-type': 'application/json', 'user-agent': 'test/1', 'webhook-id': 'msg_1' });
    expect(new Webhook(secret).verify(request!.body, request!.headers)).toEqual({ type: 'job.done' });
    expect(outbox.recorded[0]).toMatchObject({ id: 'msg_1', attempt: { outcome: 'delivered', status: 204 }, next: { state: 'delivered' } });
    expect(seen).toEqual(['attempt:delivered', 'delivered']);
  });

  it('when more deliveries are due than the concurrency, then no more than that are in flight at once, and all are made', async () => {
    const outbox = new MemoryOutbox();
    for (let i = 0; i < 7; i++) outbox.add(`msg_${i}`);
    const sender = new FakeSender(() => ok);
    sender.hold = true;
    running = new DeliveryDispatcher(outbox, sender, options, counts().metrics, logger);
    running.start();
    await waitFor(() => sender.inFlight === 2);
    expect(sender.requests).toHaveLength(2);
    sender.letGo();
    await waitFor(() => outbox.recorded.length === 7);
    expect(sender.maxInFlight).toBe(2);
  });

  it('when a new event is fanned out, then a kick has it looked for at once rather than at the next poll', async () => {
    const outbox = new MemoryOutbox();
    running = new DeliveryDispatcher(outbox, new FakeSender(() => ok), options, counts().metrics, logger);
    running.start();
    await waitFor(() => outbox.claims >= 1);
    outbox.add('msg_late');
    running.kick();
    await waitFor(() => outbox.recorded.length === 1, { timeoutMs: 2_000 });
  });

  it('when the sender throws, then the attempt is recorded as a network error and retried, not lost', async () => {
    const outbox = new MemoryOutbox();
    outbox.add('msg_1');
    running = new DeliveryDispatcher(
      outbox,
      {
        send: async () => {
          throw new Error('boom');
        },
      },
      options,
      counts().metrics,
      logger,
    );
    running.start();
    await waitFor(() => outbox.recorded.length === 1);
    expect(outbox.recorded[0]).toMatchObject({ attempt: { outcome: 'network_error' }, next: { state: 'pending' } });
  });

  it('when stopped with attempts in flight, then it claims no more and waits for them within the drain', async () => {
    const outbox = new MemoryOutbox();
    for (let i = 0; i < 4; i++) outbox.add(`msg_${i}`);
    const sender = new FakeSender(() => ok);
    sender.hold = true;
    const dispatcher = new DeliveryDispatcher(outbox, sender, options, counts().metrics, logger);
    dispatcher.start();
    await waitFor(() => sender.inFlight === 2);
    const stopped = dispatcher.stop(5_000);
    sender.letGo();
    expect(await stopped).toBe(true);
    expect(outbox.recorded).toHaveLength(2);
  });
});

describe('the delivery dispatcher when the store is away', () => {
  it('when due deliveries cannot be read, then it warns once, looks again further apart, and goes on once the store is back', async () => {
    const outbox = new MemoryOutbox();
    let away = true;
    const claimDue = outbox.claimDue.bind(outbox);
    outbox.claimDue = async () => {
      outbox.claims++;
      if (away) throw new Error('store away');
      return claimDue();
    };
    const { logger: captured, lines } = captureLogger('webhooks');
    running = new DeliveryDispatcher(outbox, new FakeSender(() => ok), { ...options, pollIntervalMs: 10 }, counts().metrics, captured);
    running.start();
    await waitFor(() => outbox.claims >= 4);
    expect(lines().filter((l) => l.msg === 'due deliveries not read; trying again')).toHaveLength(1);
    outbox.add('msg_after');
    away = false;
    await waitFor(() => outbox.recorded.length === 1, { timeoutMs: 5_000 });
    expect(lines().some((l) => l.msg === 'due deliveries read again')).toBe(true);
  });
});
