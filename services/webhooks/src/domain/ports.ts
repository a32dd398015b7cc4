import type { Attempt, ClaimedDelivery, NextStep, WebhookEvent } from '@mp3converter/shared/webhooks';

/** What fanning a job event out needs of the store: who hears it, and a delivery recorded once. */
export interface DeliveryInbox {
  endpointsFor(owner: string, event: WebhookEvent, videoFid: string): Promise<string[]>;
  /** False when the delivery exists already (the same event again): nothing changes then. */
  addDelivery(input: { id: string; endpointId: string; owner: string; event: WebhookEvent; videoFid: string; payload: string }): Promise<boolean>;
}

/** What making deliveries needs of the store: the next one due, leased, and its attempt recorded. */
export interface DeliveryOutbox {
  claimDue(leaseMs: number, now?: Date): Promise<ClaimedDelivery | undefined>;
  recordAttempt(claim: ClaimedDelivery, attempt: Attempt, next: NextStep): Promise<boolean>;
}

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * What became of one request: an answer (any status), or none — the time ran out, the network failed, or
 * the destination was refused before a byte was sent.
 */
export type SendResult =
  | { kind: 'answered'; status: number; durationMs: number; excerpt: string; retryAfterMs: number | null }
  | { kind: 'timeout' | 'network_error' | 'refused_destination'; durationMs: number; error: string };

export interface Sender {
  send(request: OutgoingRequest): Promise<SendResult>;
}
