import { Counter, Gauge, Histogram, type Registry } from '@mp3converter/shared/metrics';
import { ATTEMPT_OUTCOMES } from '@mp3converter/shared/webhooks';
import type { DeliveryMetrics } from './domain/dispatcher.js';

const SETTLED = ['delivered', 'retried', 'failed'] as const;

/** Seconds buckets for one attempt: a receiver on the same continent to one at the timeout. */
const ATTEMPT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface WebhookMetrics extends DeliveryMetrics {
  /** Deliveries a job event made (one per endpoint that hears it). */
  created(count: number): void;
}

/**
 * `webhook_attempts_total{outcome}`, `webhook_attempt_duration_seconds{outcome}`,
 * `webhook_deliveries_total{result}` (after each attempt: delivered, retried, failed),
 * `webhook_deliveries_created_total` and `webhook_deliveries_pending` (read from the store on each scrape).
 */
export function webhookMetrics(registry: Registry, pending: () => Promise<number>): WebhookMetrics {
  const attempts = new Counter({ name: 'webhook_attempts_total', help: 'Webhook attempts by outcome', labelNames: ['outcome'], registers: [registry] });
  const duration = new Histogram({
    name: 'webhook_attempt_duration_seconds',
    help: 'One webhook attempt, from the lookup to the excerpt of the answer, in seconds',
    labelNames: ['outcome'],
    buckets: ATTEMPT_BUCKETS,
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Where each delivery went after an attempt: delivered, retried (another attempt scheduled), failed (given up on)',
    labelNames: ['result'],
    registers: [registry],
  });
  const created = new Counter({ name: 'webhook_deliveries_created_total', help: 'Deliveries made from job events', registers: [registry] });
  new Gauge({
    name: 'webhook_deliveries_pending',
    help: 'Deliveries waiting for an attempt, due or not (-1 while the store cannot be read)',
    registers: [registry],
    async collect() {
      this.set(await pending().catch(() => -1));
    },
  });
  for (const outcome of ATTEMPT_OUTCOMES) attempts.inc({ outcome }, 0);
  for (const result of SETTLED) deliveries.inc({ result }, 0);
  return {
    attempted(outcome, seconds) {
      attempts.inc({ outcome });
      duration.observe({ outcome }, seconds);
    },
    settled: (result) => deliveries.inc({ result }),
    created: (count) => created.inc(count),
  };
}
