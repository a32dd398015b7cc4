import { conversionOptionsSchema } from '@mp3converter/shared/contracts';
import {
  WEBHOOK_EVENTS,
  deliveryDetailSchema,
  deliveryIdSchema,
  deliveryListQuerySchema,
  deliveryListSchema,
  deliveryViewSchema,
  endpointIdSchema,
  secretRotatedSchema,
  webhookCreatedSchema,
  webhookListSchema,
  webhookPayloadSchema,
  webhookRegistrationSchema,
  webhookViewSchema,
} from '@mp3converter/shared/webhooks';
import { z } from 'zod';
import type { ZodOpenApiObject, ZodOpenApiResponseObject } from 'zod-openapi';

/** The document's own helpers (openapi.ts), handed over rather than imported back. */
export interface DocumentParts {
  json: (schema: z.ZodType) => Record<string, { schema: z.ZodType }>;
  error: (codes: string, headers?: z.ZodObject) => ZodOpenApiResponseObject;
  noToken: ZodOpenApiResponseObject;
  badToken: ZodOpenApiResponseObject;
  storeDown: ZodOpenApiResponseObject;
  /** Who may call them: a login token, or an API key with the `read` scope. */
  security: Record<string, string[]>[];
  noStore: z.ZodObject;
}

const NOTIFY_URL_CODES =
  '`invalid_url`, `unsupported_scheme`, `credentials_in_url`, `port_not_allowed`, `destination_refused` (it leads inside), `unknown_host`';

const notifyUrl = z.string().optional().meta({
  description:
    'A URL to send the end of this job to (job.done, job.failed or job.cancelled), signed per Standard Webhooks; the endpoint made for it comes back with its secret. Checked like `POST /webhooks` URLs.',
});

/** The query of `/upload` and `/uploads`: the output options and `notify_url`. */
export const uploadQuerySchema = conversionOptionsSchema.extend({ notify_url: notifyUrl });

/** `notify_url`'s refusals, added to an upload's 400. */
export const notifyUrlRefusals = `; with \`notify_url\`: ${NOTIFY_URL_CODES}`;

/** What the creation of a resumable upload answers besides tus's headers when it names `notify_url`. */
export const notifyUrlHeaders = z.object({
  'Webhook-Id': z.string().optional().meta({ description: 'With `notify_url`: the endpoint made for it.' }),
  'Webhook-Secret': z.string().optional().meta({ description: 'With `notify_url`: its signing secret (`whsec_…`), shown this once.' }),
});

/** The webhook routes. */
export function webhookPaths({ json, error, noToken, badToken, storeDown, security, noStore }: DocumentParts): ZodOpenApiObject['paths'] {
  const webhookPath = z.object({ id: endpointIdSchema });
  const deliveryPath = webhookPath.extend({ delivery_id: deliveryIdSchema });
  const notFound = error("`webhook_not_found`: no such webhook, or someone else's (indistinguishable)");
  const deliveryNotFound = error("`delivery_not_found`: no such delivery or webhook, or someone else's (indistinguishable)");
  const common = { '401': noToken, '403': badToken, '503': storeDown } satisfies Record<string, ZodOpenApiResponseObject>;
  const tags = ['webhooks'];
  return {
    '/webhooks': {
      post: {
        tags,
        summary: 'Register an endpoint for job events',
        description:
          'Each of the events asked for is POSTed to `url` as JSON (`WebhookPayload`), signed per Standard Webhooks with the secret this answer shows once. Retried with backoff on timeouts, network errors, 5xx and 429 for up to a day. A URL that leads inside (loopback, private, link-local, metadata and other special ranges, as a literal address or a name resolving there) is refused; the address is checked again on every connection.',
        security,
        requestBody: { required: true, content: json(webhookRegistrationSchema) },
        responses: {
          '201': {
            description: 'Registered. `secret` is shown this once.',
            headers: noStore.extend({ Location: z.string().meta({ description: '`/webhooks/{id}`' }) }),
            content: json(webhookCreatedSchema),
          },
          '400': error(`\`invalid_body\`, \`entity_parse_failed\`, ${NOTIFY_URL_CODES}`),
          '409': error('`too_many_webhooks`: the user has WEBHOOKS_PER_USER endpoints'),
          '413': error('`entity_too_large`: a body over 16 KiB'),
          ...common,
        },
      },
      get: {
        tags,
        summary: "The user's registered endpoints",
        security,
        responses: { '200': { description: 'Oldest first; never the secrets.', headers: noStore, content: json(webhookListSchema) }, ...common },
      },
    },
    '/webhooks/{id}': {
      get: {
        tags,
        summary: "One endpoint (an upload's `notify_url` one too)",
        security,
        requestParams: { path: webhookPath },
        responses: { '200': { description: 'The endpoint.', headers: noStore, content: json(webhookViewSchema) }, '404': notFound, ...common },
      },
      delete: {
        tags,
        summary: 'Remove an endpoint, with its deliveries',
        description: 'Deliveries not made yet are dropped.',
        security,
        requestParams: { path: webhookPath },
        responses: { '204': { description: 'Removed.' }, '404': notFound, ...common },
      },
    },
    '/webhooks/{id}/rotate-secret': {
      post: {
        tags,
        summary: 'A new signing secret; the old one signs too for a while',
        description:
          'Until `previous_secret_expires_at` (WEBHOOK_SECRET_OVERLAP_SECONDS) every delivery carries two signatures, one per secret, so a receiver can switch without missing a message.',
        security,
        requestParams: { path: webhookPath },
        responses: {
          '200': { description: 'The new secret, shown this once.', headers: noStore, content: json(secretRotatedSchema) },
          '404': notFound,
          ...common,
        },
      },
    },
    '/webhooks/{id}/deliveries': {
      get: {
        tags,
        summary: "An endpoint's deliveries and their last answers",
        security,
        requestParams: { path: webhookPath, query: deliveryListQuerySchema },
        responses: {
          '200': { description: 'Newest first; kept DELIVERY_RETENTION_DAYS.', headers: noStore, content: json(deliveryListSchema) },
          '400': error('`invalid_query`'),
          '404': notFound,
          ...common,
        },
      },
    },
    '/webhooks/{id}/deliveries/{delivery_id}': {
      get: {
        tags,
        summary: 'One delivery: its body and every attempt',
        security,
        requestParams: { path: deliveryPath },
        responses: { '200': { description: 'The delivery.', headers: noStore, content: json(deliveryDetailSchema) }, '404': deliveryNotFound, ...common },
      },
    },
    '/webhooks/{id}/deliveries/{delivery_id}/redeliver': {
      post: {
        tags,
        summary: 'Send a delivery again now',
        description:
          'Whatever became of it: a new run of attempts, with its own day of retries, under the same `webhook-id` (a receiver that has the message already can drop it).',
        security,
        requestParams: { path: deliveryPath },
        responses: {
          '202': { description: 'Queued for an attempt now.', headers: noStore, content: json(deliveryViewSchema) },
          '404': deliveryNotFound,
          '409': error('`delivery_in_progress`: an attempt is being made; ask again once it is recorded'),
          ...common,
        },
      },
    },
  };
}

/** What the receivers get: the document's `webhooks`, one per event. */
export function webhookEvents({ json }: Pick<DocumentParts, 'json'>): ZodOpenApiObject['webhooks'] {
  const headers = z.object({
    'webhook-id': deliveryIdSchema.meta({ description: 'The message id: the same on every attempt and redelivery. Drop a message whose id you have.' }),
    'webhook-timestamp': z.string().meta({ description: 'Unix seconds of this attempt; refuse one far from now (5 minutes) to stop replays.' }),
    'webhook-signature': z.string().meta({
      description: 'Space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret in use (two while a rotation overlaps).',
    }),
  });
  return Object.fromEntries(
    WEBHOOK_EVENTS.map((event) => [
      event,
      {
        post: {
          tags: ['webhooks'],
          summary: `Sent when a job ends ${event === 'job.done' ? 'with its MP3' : event === 'job.failed' ? 'failed' : 'cancelled'}`,
          security: [],
          requestParams: { header: headers },
          requestBody: { required: true, content: json(webhookPayloadSchema) },
          responses: {
            '200': { description: 'Any 2xx: delivered.' },
            '429': { description: 'Tried again later (Retry-After is heeded within the day).' },
            '500': { description: 'Any 5xx, a timeout or a network error: tried again with backoff for up to a day. Other answers (3xx, 4xx) fail it.' },
          },
        },
      },
    ]),
  );
}
