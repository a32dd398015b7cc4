import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { JobEvent } from '../jobs/events.js';
import { MAX_WEBHOOK_URL_LENGTH } from './destination.js';

/**
 * Webhooks: endpoints a user registers (or names with one upload, `notify_url`) and the deliveries made to
 * them. Registrations and deliveries live in MongoDB, database `webhooks` (WEBHOOK_DATABASE): the gateway
 * writes endpoints and asks for redeliveries, the webhooks worker turns job events into deliveries and makes
 * them.
 */
export const WEBHOOKS_DATABASE = 'webhooks';
export const WEBHOOK_COLLECTIONS = { endpoints: 'endpoints', deliveries: 'deliveries', attempts: 'attempts', leases: 'leases' } as const;

/** What an endpoint can hear: a job's end, one event per final state. */
export const WEBHOOK_EVENTS = ['job.done', 'job.failed', 'job.cancelled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const webhookEventSchema = z.enum(WEBHOOK_EVENTS).meta({ id: 'WebhookEvent', description: "A job's end: done, failed or cancelled." });

/** The routing keys of `job.events` that become webhooks (the event type is the routing key). */
export const WEBHOOK_ROUTING_KEYS: readonly string[] = WEBHOOK_EVENTS;

/** The webhook event a job event is, if any: a state event of a final state. */
export const webhookEventOf = (event: JobEvent): WebhookEvent | undefined => {
  if (event.type !== 'state') return undefined;
  const name = `job.${event.state}`;
  return (WEBHOOK_EVENTS as readonly string[]).includes(name) ? (name as WebhookEvent) : undefined;
};

export const endpointIdSchema = z
  .string()
  .regex(/^ep_[0-9a-f]{24}$/, 'an endpoint id (ep_ and 24 hex characters)')
  .meta({ description: "An endpoint's id.", examples: ['ep_5f0c2a1b2c3d4e5f60718293'] });
export const deliveryIdSchema = z
  .string()
  .regex(/^msg_[0-9a-f]{32}$/, 'a delivery id (msg_ and 32 hex characters)')
  .meta({ description: "A delivery's id, sent as `webhook-id`.", examples: ['msg_0f1e2d3c4b5a69788796a5b4c3d2e1f0'] });

export const newEndpointId = (): string => `ep_${randomBytes(12).toString('hex')}`;

/**
 * The id of the message one job event makes for one endpoint: the same whichever publisher sent the event,
 * however often it arrives, and on every attempt (`webhook-id`), so receivers can drop duplicates.
 */
export const deliveryIdOf = (endpointId: string, videoFid: string, event: WebhookEvent): string =>
  `msg_${createHash('sha256').update(`${endpointId}\n${videoFid}\n${event}`).digest('hex').slice(0, 32)}`;

const isoDate = z.iso.datetime();
const objectIdHex = z.string().regex(/^[0-9a-f]{24}$/, 'a 24-character hex id');

/** `POST /webhooks`. */
export const webhookRegistrationSchema = z
  .strictObject({
    url: z.string().meta({
      description: `http or https, at most ${MAX_WEBHOOK_URL_LENGTH} characters; no credentials, no fragment; it must not lead inside (see docs/webhooks.md).`,
    }),
    events: z.array(webhookEventSchema).min(1).max(WEBHOOK_EVENTS.length).optional().meta({ description: 'What to send; all three when left out.' }),
    description: z.string().max(200).optional().meta({ description: 'For people; up to 200 characters.' }),
  })
  .meta({ id: 'WebhookRegistration' });

/** An endpoint as its owner sees it (never its secrets, but on creation and rotation). */
export const webhookViewSchema = z
  .object({
    id: endpointIdSchema,
    url: z.string().meta({ description: 'As parsed: lower-case host, international names in punycode.' }),
    events: z.array(webhookEventSchema),
    description: z.string().nullable(),
    video_fid: objectIdHex.nullable().meta({ description: "Set for an upload's `notify_url`: the one job it hears about." }),
    created_at: isoDate,
    expires_at: isoDate.nullable().meta({ description: "When an upload's `notify_url` endpoint and its deliveries are removed." }),
    previous_secret_expires_at: isoDate.nullable().meta({ description: 'While a rotated secret still signs too: until when.' }),
  })
  .meta({ id: 'Webhook', description: 'An endpoint that receives job events.' });
export type WebhookView = z.infer<typeof webhookViewSchema>;

export const webhookCreatedSchema = webhookViewSchema
  .extend({
    secret: z.string().meta({ description: 'The signing secret (`whsec_…`), shown this once.', examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }),
  })
  .meta({ id: 'WebhookCreated', description: 'An endpoint just made, with its signing secret: shown this once.' });

export const webhookListSchema = z
  .object({ webhooks: z.array(webhookViewSchema) })
  .meta({ id: 'WebhookList', description: "The user's registered endpoints, oldest first (an upload's `notify_url` ones are not listed)." });

export const secretRotatedSchema = z
  .object({
    secret: z.string().meta({ description: 'The new signing secret, shown this once.' }),
    previous_secret_expires_at: isoDate.meta({ description: 'Until then every delivery is signed with both secrets.' }),
  })
  .meta({ id: 'WebhookSecretRotated', description: 'A new signing secret; the previous one signs too until it expires.' });

/** What became of one attempt. */
export const ATTEMPT_OUTCOMES = ['delivered', 'http_error', 'timeout', 'network_error', 'refused_destination'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export const attemptViewSchema = z
  .object({
    at: isoDate,
    outcome: z.enum(ATTEMPT_OUTCOMES),
    status: z.number().int().nullable().meta({ description: "The receiver's HTTP status; null when none came." }),
    duration_ms: z.number().int().nonnegative(),
    error: z.string().nullable().meta({ description: 'What went wrong, when no answer came or the destination was refused.' }),
    response_excerpt: z.string().nullable().meta({ description: "The answer's first bytes (WEBHOOK_RESPONSE_EXCERPT_BYTES), as text." }),
  })
  .meta({ id: 'WebhookAttempt', description: 'One attempt of a delivery and its answer.' });
export type AttemptView = z.infer<typeof attemptViewSchema>;

export const DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export const deliveryViewSchema = z
  .object({
    id: deliveryIdSchema,
    event: webhookEventSchema,
    video_fid: objectIdHex,
    state: z.enum(DELIVERY_STATES).meta({ description: 'pending (to be tried, or tried again), delivered (a 2xx came), failed (given up on).' }),
    attempts: z.number().int().nonnegative(),
    created_at: isoDate,
    next_attempt_at: isoDate.nullable(),
    last_attempt: attemptViewSchema.nullable(),
  })
  .meta({ id: 'WebhookDelivery', description: 'One job event for one endpoint: the message and where it stands.' });
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

export const deliveryDetailSchema = deliveryViewSchema
  .extend({
    payload: z.string().meta({ description: 'The body sent, byte for byte.' }),
    history: z.array(attemptViewSchema).meta({ description: 'Every attempt, newest first (at most 100).' }),
  })
  .meta({ id: 'WebhookDeliveryDetail', description: 'A delivery with its body and every attempt.' });
export type DeliveryDetail = z.infer<typeof deliveryDetailSchema>;

export const deliveryListSchema = z
  .object({ deliveries: z.array(deliveryViewSchema) })
  .meta({ id: 'WebhookDeliveryList', description: "An endpoint's deliveries, newest first." });

export const deliveryListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Deliveries at most.' }),
});

/** The body of every webhook, as the Standard Webhooks specification shapes one: type, timestamp, data. */
export const webhookPayloadSchema = z
  .object({
    type: webhookEventSchema,
    timestamp: isoDate.meta({ description: 'When the job ended.' }),
    data: z.object({
      video_fid: objectIdHex,
      state: z.enum(['done', 'failed', 'cancelled']),
      mp3_fid: objectIdHex.nullable().meta({ description: 'The MP3, once done.' }),
      reason: z.string().nullable().meta({ description: 'Why it failed, for people.' }),
      status_url: z.url().meta({ description: 'The job (GET, with a token).' }),
      download_url: z.url().nullable().meta({ description: 'The MP3 (GET, with a token), once done.' }),
    }),
  })
  .meta({ id: 'WebhookPayload', description: 'What a webhook carries.' });
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

/** The body a job event makes, exactly as sent (and kept, so every attempt sends the same bytes). */
export function payloadOf(event: JobEvent, type: WebhookEvent, gatewayUrl: string): string {
  const base = gatewayUrl.replace(/\/+$/, '');
  const mp3Fid = event.state === 'done' ? (event.mp3_fid ?? null) : null;
  const payload: WebhookPayload = {
    type,
    timestamp: event.at,
    data: {
      video_fid: event.video_fid,
      state: event.state as WebhookPayload['data']['state'],
      mp3_fid: mp3Fid,
      reason: event.reason ?? null,
      status_url: `${base}/jobs/${event.video_fid}`,
      download_url: mp3Fid ? `${base}/download?fid=${mp3Fid}` : null,
    },
  };
  return JSON.stringify(payload);
}

/** The webhooks worker's own durable queue, bound to `job.events` with the routing keys of WEBHOOK_EVENTS. */
export const WEBHOOK_EVENTS_QUEUE = 'webhooks.job-events';
