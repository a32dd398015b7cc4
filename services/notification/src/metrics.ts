import { Counter, type Registry } from '@mp3converter/shared/metrics';

/** What became of one notification: sent, to be tried again, or given up on (never sent). */
export type EmailResult = 'sent' | 'retried' | 'failed';

export interface EmailMetrics {
  email(queue: string, result: EmailResult): void;
}

/** `notification_emails_total{queue, result}`, each result at 0 from the start for the queues given. */
export function emailMetrics(registry: Registry, queues: readonly string[]): EmailMetrics {
  const emails = new Counter({
    name: 'notification_emails_total',
    help: 'Notifications by result: sent, retried (a retry scheduled) or failed (given up on, never sent)',
    labelNames: ['queue', 'result'],
    registers: [registry],
  });
  for (const queue of queues) for (const result of ['sent', 'retried', 'failed'] as const) emails.inc({ queue, result }, 0);
  return { email: (queue, result) => emails.inc({ queue, result }) };
}
