import { randomUUID } from 'node:crypto';
import type { Collection, MongoClient } from 'mongodb';
import {
  type AttemptOutcome,
  type AttemptView,
  type DeliveryDetail,
  type DeliveryState,
  type DeliveryView,
  WEBHOOK_COLLECTIONS,
  WEBHOOKS_DATABASE,
  type WebhookEvent,
  type WebhookView,
  newEndpointId,
} from './model.js';
import { newSigningSecret } from './signature.js';

interface SecretEntry {
  secret: string;
  /** Null for the current secret; a rotated one signs too until then. */
  expires_at: Date | null;
}

export interface EndpointDocument {
  _id: string;
  owner: string;
  url: string;
  events: WebhookEvent[];
  description: string | null;
  /** The current secret first. */
  secrets: SecretEntry[];
  /**
   * What keeps the per-user cap without a race: `n:<0…cap-1>` for a registered endpoint, `job:<video_fid>`
   * for an upload's `notify_url`; unique per owner, so a burst cannot take more slots than there are.
   */
  slot: string;
  video_fid: string | null;
  created_at: Date;
  expires_at: Date | null;
}

interface AttemptSummary {
  at: Date;
  outcome: AttemptOutcome;
  status: number | null;
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

export interface DeliveryDocument {
  _id: string;
  endpoint_id: string;
  owner: string;
  event: WebhookEvent;
  video_fid: string;
  payload: string;
  state: DeliveryState;
  created_at: Date;
  next_attempt_at: Date | null;
  /** When the current run of attempts began (its creation, or the last redelivery asked for): retries stop a day after. */
  series_started_at: Date;
  series_attempts: number;
  attempts: number;
  last_attempt: AttemptSummary | null;
}

/**
 * A worker's hold on a delivery while it makes an attempt: one document per delivery, taken by inserting it.
 * An insert against the unique `_id` is the one write that MongoDB-wire servers all make atomic: FerretDB 1.x
 * applies a conditional update as a read and a write, so two workers could both "claim" with one.
 */
interface LeaseDocument {
  _id: string;
  token: string;
  until: Date;
}

interface AttemptDocument extends AttemptSummary {
  delivery_id: string;
  endpoint_id: string;
}

/** A delivery a worker holds, with what it needs to make the attempt. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  token: string;
  url: string;
  /** The secrets to sign with now, current first. */
  secrets: string[];
  payload: string;
  /** Attempts of this run before this one. */
  seriesAttempts: number;
  seriesStartedAt: Date;
}

export type Attempt = AttemptSummary;

/** Where a delivery goes after an attempt: done, given up on, or tried again at `nextAttemptAt`. */
export type NextStep = { state: 'delivered' } | { state: 'failed' } | { state: 'pending'; nextAttemptAt: Date };

/** Deliveries removed per round of pruning at most; the next round takes the rest. */
const PRUNE_BATCH = 5_000;

const isDuplicateKey = (err: unknown): boolean => (err as { code?: unknown }).code === 11000;

const currentSecrets = (doc: EndpointDocument, now: Date): string[] =>
  doc.secrets.filter((s) => s.expires_at === null || s.expires_at > now).map((s) => s.secret);

export function toWebhookView(doc: EndpointDocument, now = new Date()): WebhookView {
  const previous = doc.secrets[1]?.expires_at;
  return {
    id: doc._id,
    url: doc.url,
    events: doc.events,
    description: doc.description,
    video_fid: doc.video_fid,
    created_at: doc.created_at.toISOString(),
    expires_at: doc.expires_at?.toISOString() ?? null,
    previous_secret_expires_at: previous && previous > now ? previous.toISOString() : null,
  };
}

const toAttemptView = (a: AttemptSummary): AttemptView => ({
  at: a.at.toISOString(),
  outcome: a.outcome,
  status: a.status,
  duration_ms: a.duration_ms,
  error: a.error,
  response_excerpt: a.response_excerpt,
});

const toDeliveryView = (d: DeliveryDocument): DeliveryView => ({
  id: d._id,
  event: d.event,
  video_fid: d.video_fid,
  state: d.state,
  attempts: d.attempts,
  created_at: d.created_at.toISOString(),
  next_attempt_at: d.state === 'pending' ? (d.next_attempt_at?.toISOString() ?? null) : null,
  last_attempt: d.last_attempt ? toAttemptView(d.last_attempt) : null,
});

/** Due deliveries looked at per claim: those leased are passed over. */
const CLAIM_CANDIDATES = 32;

/**
 * Endpoints, deliveries and attempts in MongoDB. The gateway registers and reads (always within one owner's
 * documents: someone else's ids find nothing), the worker fans events out and makes the attempts.
 */
export class WebhookStore {
  private readonly endpoints: Collection<EndpointDocument>;
  private readonly deliveries: Collection<DeliveryDocument>;
  private readonly attempts: Collection<AttemptDocument>;
  private readonly leases: Collection<LeaseDocument>;

  constructor(mongo: MongoClient, database = WEBHOOKS_DATABASE) {
    const db = mongo.db(database);
    this.endpoints = db.collection(WEBHOOK_COLLECTIONS.endpoints);
    this.deliveries = db.collection(WEBHOOK_COLLECTIONS.deliveries);
    this.attempts = db.collection(WEBHOOK_COLLECTIONS.attempts);
    this.leases = db.collection(WEBHOOK_COLLECTIONS.leases);
  }

  async ensureIndexes(): Promise<void> {
    await this.endpoints.createIndex({ owner: 1, slot: 1 }, { unique: true });
    await this.endpoints.createIndex({ owner: 1, video_fid: 1 });
    await this.endpoints.createIndex({ expires_at: 1 });
    await this.deliveries.createIndex({ state: 1, next_attempt_at: 1 });
    await this.deliveries.createIndex({ endpoint_id: 1, created_at: -1 });
    await this.deliveries.createIndex({ created_at: 1 });
    await this.attempts.createIndex({ delivery_id: 1, at: -1 });
    await this.leases.createIndex({ until: 1 });
  }

  // ── the gateway's side ────────────────────────────────────────────────────────────────────────────

  /**
   * A new endpoint in the first free of `maxPerOwner` slots; undefined when all are taken. Two requests
   * that pick the same slot meet the unique index: the second looks again.
   */
  async register(
    input: { owner: string; url: string; events: WebhookEvent[]; description: string | null },
    maxPerOwner: number,
    now = new Date(),
  ): Promise<{ view: WebhookView; secret: string } | undefined> {
    for (let tries = 0; tries <= maxPerOwner; tries++) {
      const used = new Set((await this.endpoints.find({ owner: input.owner, video_fid: null }, { projection: { slot: 1 } }).toArray()).map((d) => d.slot));
      const free = Array.from({ length: maxPerOwner }, (_, i) => `n:${i}`).find((slot) => !used.has(slot));
      if (free === undefined) return undefined;
      try {
        return await this.insert({ ...input, slot: free, video_fid: null, expires_at: null }, now);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    return undefined;
  }

  /** An upload's `notify_url`: an endpoint for that one job, all three events, removed at `expiresAt`. */
  registerForJob(input: { owner: string; url: string; videoFid: string; expiresAt: Date }, now = new Date()): Promise<{ view: WebhookView; secret: string }> {
    return this.insert(
      {
        owner: input.owner,
        url: input.url,
        events: ['job.done', 'job.failed', 'job.cancelled'],
        description: null,
        slot: `job:${input.videoFid}`,
        video_fid: input.videoFid,
        expires_at: input.expiresAt,
      },
      now,
    );
  }

  private async insert(input: Omit<EndpointDocument, '_id' | 'secrets' | 'created_at'>, now: Date): Promise<{ view: WebhookView; secret: string }> {
    const secret = newSigningSecret();
    const doc: EndpointDocument = { _id: newEndpointId(), ...input, secrets: [{ secret, expires_at: null }], created_at: now };
    await this.endpoints.insertOne(doc);
    return { view: toWebhookView(doc, now), secret };
  }

  async list(owner: string, now = new Date()): Promise<WebhookView[]> {
    const docs = await this.endpoints.find({ owner, video_fid: null }).sort({ created_at: 1, _id: 1 }).toArray();
    return docs.map((d) => toWebhookView(d, now));
  }

  async get(owner: string, id: string, now = new Date()): Promise<WebhookView | undefined> {
    const doc = await this.endpoints.findOne({ _id: id, owner });
    return doc ? toWebhookView(doc, now) : undefined;
  }

  /** Removes the endpoint, then its deliveries and their attempts; false when the owner has no such endpoint. */
  async remove(owner: string, id: string): Promise<boolean> {
    const { deletedCount } = await this.endpoints.deleteOne({ _id: id, owner });
    if (deletedCount === 0) return false;
    await this.removeDeliveriesOf([id]);
    return true;
  }

  private async removeDeliveriesOf(endpointIds: string[]): Promise<void> {
    await this.deliveries.deleteMany({ endpoint_id: { $in: endpointIds } });
    await this.attempts.deleteMany({ endpoint_id: { $in: endpointIds } });
    // Their leases run out by themselves and are pruned.
  }

  /**
   * A new current secret; the one it replaces signs too for `overlapMs`, so receivers can switch without
   * losing a message. An older one still in its overlap is dropped: two secrets at most.
   */
  async rotateSecret(owner: string, id: string, overlapMs: number, now = new Date()): Promise<{ secret: string; previousExpiresAt: Date } | undefined> {
    const doc = await this.endpoints.findOne({ _id: id, owner });
    const current = doc?.secrets[0];
    if (!doc || !current) return undefined;
    const secret = newSigningSecret();
    const previousExpiresAt = new Date(now.getTime() + overlapMs);
    const { matchedCount } = await this.endpoints.updateOne(
      // Only over the secret read: of two rotations at once, one wins and the other is told to try again.
      { _id: id, owner, 'secrets.0.secret': current.secret },
      {
        $set: {
          secrets: [
            { secret, expires_at: null },
            { secret: current.secret, expires_at: previousExpiresAt },
          ],
        },
      },
    );
    if (matchedCount === 0) return this.rotateSecret(owner, id, overlapMs, now);
    return { secret, previousExpiresAt };
  }

  /** The endpoint's deliveries, newest first; undefined when the owner has no such endpoint. */
  async listDeliveries(owner: string, endpointId: string, limit: number): Promise<DeliveryView[] | undefined> {
    if (!(await this.endpoints.findOne({ _id: endpointId, owner }, { projection: { _id: 1 } }))) return undefined;
    const docs = await this.deliveries.find({ endpoint_id: endpointId, owner }).sort({ created_at: -1, _id: 1 }).limit(limit).toArray();
    return docs.map(toDeliveryView);
  }

  async getDelivery(owner: string, endpointId: string, deliveryId: string): Promise<DeliveryDetail | undefined> {
    const doc = await this.deliveries.findOne({ _id: deliveryId, endpoint_id: endpointId, owner });
    if (!doc) return undefined;
    const history = await this.attempts.find({ delivery_id: deliveryId }).sort({ at: -1 }).limit(100).toArray();
    return { ...toDeliveryView(doc), payload: doc.payload, history: history.map(toAttemptView) };
  }

  /**
   * Sends the delivery again now, as a new run of attempts with its own day of retries, whatever became of
   * it; the same message id, so a receiver that has it already can drop it. Refused while an attempt is
   * being made.
   */
  async redeliver(owner: string, endpointId: string, deliveryId: string, now = new Date()): Promise<DeliveryView | 'not-found' | 'in-progress'> {
    const exists = await this.deliveries.findOne({ _id: deliveryId, endpoint_id: endpointId, owner }, { projection: { _id: 1, state: 1 } });
    if (!exists) return 'not-found';
    // A worker writes an attempt's outcome before it lets go of its lease: a delivery already delivered or
    // failed has no attempt under way, whatever lease is still about.
    const lease = exists.state === 'pending' ? await this.leases.findOne({ _id: deliveryId }) : null;
    if (lease && lease.until > now) return 'in-progress';
    await this.deliveries.updateOne(
      { _id: deliveryId, endpoint_id: endpointId, owner },
      { $set: { state: 'pending', next_attempt_at: now, series_started_at: now, series_attempts: 0 } },
    );
    const doc = await this.deliveries.findOne({ _id: deliveryId, endpoint_id: endpointId, owner });
    return doc ? toDeliveryView(doc) : 'not-found';
  }

  // ── the worker's side ─────────────────────────────────────────────────────────────────────────────

  /** The endpoints that hear `event` of the job `videoFid`: the owner's registered ones that asked for it, and the job's own. */
  async endpointsFor(owner: string, event: WebhookEvent, videoFid: string): Promise<string[]> {
    const docs = await this.endpoints.find({ owner, $or: [{ video_fid: null, events: event }, { video_fid: videoFid }] }, { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id);
  }

  /** A delivery to make now; nothing changes when it exists already (the same event again). */
  async addDelivery(
    input: { id: string; endpointId: string; owner: string; event: WebhookEvent; videoFid: string; payload: string },
    now = new Date(),
  ): Promise<boolean> {
    const doc: DeliveryDocument = {
      _id: input.id,
      endpoint_id: input.endpointId,
      owner: input.owner,
      event: input.event,
      video_fid: input.videoFid,
      payload: input.payload,
      state: 'pending',
      created_at: now,
      next_attempt_at: now,
      series_started_at: now,
      series_attempts: 0,
      attempts: 0,
      last_attempt: null,
    };
    try {
      await this.deliveries.insertOne(doc);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /**
   * The most overdue delivery no worker holds, leased to the caller for `leaseMs` (a worker that dies
   * lets go when the lease runs out); undefined when none is due. A delivery whose endpoint is gone is
   * removed on the way.
   */
  async claimDue(leaseMs: number, now = new Date()): Promise<ClaimedDelivery | undefined> {
    const due = await this.deliveries
      .find({ state: 'pending', next_attempt_at: { $lte: now } })
      .sort({ next_attempt_at: 1 })
      .limit(CLAIM_CANDIDATES)
      .toArray();
    if (due.length === 0) return undefined;
    const held = new Map((await this.leases.find({ _id: { $in: due.map((d) => d._id) } }).toArray()).map((l) => [l._id, l]));
    for (const candidate of due) {
      const token = await this.lease(candidate._id, held.get(candidate._id), leaseMs, now);
      if (!token) continue;
      // Read again under the lease: the list is from before it, and an attempt that ended since (its state
      // written before its lease was let go) must not be made twice.
      const doc = await this.deliveries.findOne({ _id: candidate._id });
      if (doc?.state !== 'pending' || (doc.next_attempt_at && doc.next_attempt_at > now)) {
        await this.leases.deleteOne({ _id: candidate._id, token });
        continue;
      }
      const endpoint = await this.endpoints.findOne({ _id: doc.endpoint_id });
      if (!endpoint) {
        await this.deliveries.deleteOne({ _id: doc._id });
        await this.leases.deleteOne({ _id: doc._id, token });
        continue;
      }
      return {
        id: doc._id,
        endpointId: doc.endpoint_id,
        token,
        url: endpoint.url,
        secrets: currentSecrets(endpoint, now),
        payload: doc.payload,
        seriesAttempts: doc.series_attempts,
        seriesStartedAt: doc.series_started_at,
      };
    }
    return undefined;
  }

  /** Takes the delivery's lease (a run-out one is taken over): its token, or undefined when someone else holds it. */
  private async lease(id: string, existing: LeaseDocument | undefined, leaseMs: number, now: Date): Promise<string | undefined> {
    if (existing) {
      if (existing.until > now) return undefined;
      // Of two workers taking over the same run-out lease, both may remove it; only one insert then wins.
      await this.leases.deleteOne({ _id: id, token: existing.token });
    }
    const token = randomUUID();
    try {
      await this.leases.insertOne({ _id: id, token, until: new Date(now.getTime() + leaseMs) });
      return token;
    } catch (err) {
      if (isDuplicateKey(err)) return undefined;
      throw err;
    }
  }

  /** Records an attempt and where the delivery goes next, if the caller still holds it; returns whether it did. */
  async recordAttempt(claim: ClaimedDelivery, attempt: Attempt, next: NextStep): Promise<boolean> {
    const lease = await this.leases.findOne({ _id: claim.id });
    if (lease?.token !== claim.token) return false;
    // The attempt first: whoever sees the delivery's new state finds the attempt that led there.
    await this.attempts.insertOne({ ...attempt, delivery_id: claim.id, endpoint_id: claim.endpointId });
    await this.deliveries.updateOne(
      { _id: claim.id },
      {
        $set: {
          state: next.state,
          next_attempt_at: next.state === 'pending' ? next.nextAttemptAt : null,
          last_attempt: attempt,
        },
        $inc: { attempts: 1, series_attempts: 1 },
      },
    );
    await this.leases.deleteOne({ _id: claim.id, token: claim.token });
    return true;
  }

  /** Deliveries waiting for an attempt (due or not), for the metrics. */
  pendingCount(): Promise<number> {
    return this.deliveries.countDocuments({ state: 'pending' });
  }

  /**
   * Removes what is past keeping: finished deliveries (and their attempts) made before `before`, and
   * uploads' endpoints past their expiry with everything of theirs.
   */
  async prune(before: Date, now = new Date()): Promise<{ deliveries: number; endpoints: number }> {
    const expired = (await this.endpoints.find({ expires_at: { $lt: now } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    if (expired.length > 0) {
      await this.endpoints.deleteMany({ _id: { $in: expired } });
      await this.removeDeliveriesOf(expired);
    }
    const old = (
      await this.deliveries
        .find({ created_at: { $lt: before }, state: { $ne: 'pending' } }, { projection: { _id: 1 } })
        .limit(PRUNE_BATCH)
        .toArray()
    ).map((d) => d._id);
    if (old.length > 0) {
      await this.deliveries.deleteMany({ _id: { $in: old } });
      await this.attempts.deleteMany({ delivery_id: { $in: old } });
    }
    // Leases of deliveries that are gone (removed with their endpoint while an attempt was made).
    await this.leases.deleteMany({ until: { $lt: new Date(now.getTime() - 3_600_000) } });
    return { deliveries: old.length, endpoints: expired.length };
  }
}
