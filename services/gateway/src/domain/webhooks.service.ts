import { AppError, badRequest, notFound } from '@mp3converter/shared/errors';
import type { Logger } from '@mp3converter/shared/logger';
import {
  type DeliveryDetail,
  type DeliveryView,
  type DestinationPolicy,
  WEBHOOK_EVENTS,
  type WebhookEvent,
  type WebhookView,
  deliveryIdSchema,
  endpointIdSchema,
  webhookRegistrationSchema,
} from '@mp3converter/shared/webhooks';

/** What the webhook routes need of the store: one owner's endpoints and deliveries. */
export interface WebhookRegistry {
  register(
    input: { owner: string; url: string; events: WebhookEvent[]; description: string | null },
    maxPerOwner: number,
  ): Promise<{ view: WebhookView; secret: string } | undefined>;
  registerForJob(input: { owner: string; url: string; videoFid: string; expiresAt: Date }): Promise<{ view: WebhookView; secret: string }>;
  list(owner: string): Promise<WebhookView[]>;
  get(owner: string, id: string): Promise<WebhookView | undefined>;
  remove(owner: string, id: string): Promise<boolean>;
  rotateSecret(owner: string, id: string, overlapMs: number): Promise<{ secret: string; previousExpiresAt: Date } | undefined>;
  listDeliveries(owner: string, endpointId: string, limit: number): Promise<DeliveryView[] | undefined>;
  getDelivery(owner: string, endpointId: string, deliveryId: string): Promise<DeliveryDetail | undefined>;
  redeliver(owner: string, endpointId: string, deliveryId: string): Promise<DeliveryView | 'not-found' | 'in-progress'>;
}

/** A name's addresses; throws an error with `code` ENOTFOUND (or ENODATA) for a name that does not exist. */
export type ResolveHost = (host: string) => Promise<string[]>;

export interface WebhookSettings {
  /** Endpoints one user may register. */
  maxPerUser: number;
  /** How long a rotated secret still signs, ms. */
  secretOverlapMs: number;
  /** How long an upload's `notify_url` endpoint (and its deliveries) is kept, ms. */
  notifyUrlTtlMs: number;
  /** How long the name of a URL may take to resolve at registration, ms; past it, the sender's check alone decides. */
  resolveTimeoutMs: number;
}

export interface CheckedDestination {
  /** As parsed: what is stored, shown and used. */
  url: string;
}

const webhookNotFound = () => notFound('no such webhook', 'webhook_not_found');
const deliveryNotFound = () => notFound('no such delivery', 'delivery_not_found');

/**
 * The webhook resource: a user registers, lists and removes endpoints, rotates their secrets, reads their
 * deliveries and asks for one again. Every call is within the caller's own endpoints: someone else's id (or
 * one that is not an id at all) is not found. A URL is refused here when it is wrong or leads inside as far
 * as can be told now (a literal address, or a name resolving inside); the sender checks the address it
 * connects to every time, which is what a name that changes its answer cannot get around.
 */
export class WebhooksService {
  constructor(
    private readonly registry: WebhookRegistry,
    private readonly policy: DestinationPolicy,
    private readonly resolveHost: ResolveHost,
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
  ) {}

  /** Checks a URL a user gives (POST /webhooks, an upload's `notify_url`): 400 with what is wrong. */
  async checkDestination(raw: unknown, field = 'url'): Promise<CheckedDestination> {
    const verdict = this.policy.checkUrl(raw);
    if (!verdict.ok) throw badRequest(verdict.code, field === 'url' ? verdict.message : verdict.message.replace(/^url/, field));
    if (verdict.literal) return { url: verdict.url.href };
    let addresses: string[];
    try {
      addresses = await this.resolveWithin(verdict.host);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw badRequest('unknown_host', `${field}: ${verdict.host} does not resolve`);
      // The resolver is slow or away: nothing is sent on this answer, the sender checks when it connects.
      this.logger.debug({ err, host: verdict.host }, 'webhook host not resolved at registration');
      return { url: verdict.url.href };
    }
    for (const address of addresses) {
      const check = this.policy.checkAddress(address);
      if (!check.allowed) throw badRequest('destination_refused', `${field} leads inside: ${verdict.host} resolves to ${check.kind}`);
    }
    return { url: verdict.url.href };
  }

  private async resolveWithin(host: string): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.resolveHost(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('resolution timed out'), { code: 'ETIMEOUT' })), this.settings.resolveTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async register(owner: string, body: unknown): Promise<WebhookView & { secret: string }> {
    const parsed = webhookRegistrationSchema.safeParse(body);
    if (!parsed.success) {
      throw badRequest('invalid_body', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const { url } = await this.checkDestination(parsed.data.url);
    const events = WEBHOOK_EVENTS.filter((e) => (parsed.data.events ?? WEBHOOK_EVENTS).includes(e));
    const made = await this.registry.register({ owner, url, events, description: parsed.data.description ?? null }, this.settings.maxPerUser);
    if (!made) {
      throw new AppError(409, 'too_many_webhooks', `at most ${this.settings.maxPerUser} webhooks per user; remove one to register another`);
    }
    this.logger.info({ owner, webhook: made.view.id, url }, 'webhook registered');
    return { ...made.view, secret: made.secret };
  }

  /** An upload's `notify_url`, checked before its body is read (see `checkDestination`), for its one job. */
  async registerForJob(owner: string, videoFid: string, destination: CheckedDestination): Promise<{ id: string; secret: string }> {
    const made = await this.registry.registerForJob({
      owner,
      url: destination.url,
      videoFid,
      expiresAt: new Date(Date.now() + this.settings.notifyUrlTtlMs),
    });
    this.logger.info({ owner, webhook: made.view.id, videoFid }, "upload's notify_url registered");
    return { id: made.view.id, secret: made.secret };
  }

  list(owner: string): Promise<WebhookView[]> {
    return this.registry.list(owner);
  }

  async get(owner: string, id: string): Promise<WebhookView> {
    const found = endpointIdSchema.safeParse(id).success ? await this.registry.get(owner, id) : undefined;
    if (!found) throw webhookNotFound();
    return found;
  }

  async remove(owner: string, id: string): Promise<void> {
    if (!endpointIdSchema.safeParse(id).success || !(await this.registry.remove(owner, id))) throw webhookNotFound();
    this.logger.info({ owner, webhook: id }, 'webhook removed');
  }

  async rotateSecret(owner: string, id: string): Promise<{ secret: string; previous_secret_expires_at: string }> {
    const rotated = endpointIdSchema.safeParse(id).success ? await this.registry.rotateSecret(owner, id, this.settings.secretOverlapMs) : undefined;
    if (!rotated) throw webhookNotFound();
    this.logger.info({ owner, webhook: id }, 'webhook secret rotated');
    return { secret: rotated.secret, previous_secret_expires_at: rotated.previousExpiresAt.toISOString() };
  }

  async deliveries(owner: string, id: string, limit: number): Promise<DeliveryView[]> {
    const found = endpointIdSchema.safeParse(id).success ? await this.registry.listDeliveries(owner, id, limit) : undefined;
    if (!found) throw webhookNotFound();
    return found;
  }

  async delivery(owner: string, id: string, deliveryId: string): Promise<DeliveryDetail> {
    const found = this.ids(id, deliveryId) ? await this.registry.getDelivery(owner, id, deliveryId) : undefined;
    if (!found) throw deliveryNotFound();
    return found;
  }

  async redeliver(owner: string, id: string, deliveryId: string): Promise<DeliveryView> {
    const result = this.ids(id, deliveryId) ? await this.registry.redeliver(owner, id, deliveryId) : 'not-found';
    if (result === 'not-found') throw deliveryNotFound();
    if (result === 'in-progress') throw new AppError(409, 'delivery_in_progress', 'an attempt of this delivery is being made; ask again once it is recorded');
    this.logger.info({ owner, webhook: id, delivery: deliveryId }, 'redelivery asked for');
    return result;
  }

  private ids(id: string, deliveryId: string): boolean {
    return endpointIdSchema.safeParse(id).success && deliveryIdSchema.safeParse(deliveryId).success;
  }
}
