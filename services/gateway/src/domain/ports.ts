import type { ConversionMessage } from '@mp3converter/shared/contracts';
import type { ApiKeyScope } from '@mp3converter/shared/contracts/api-keys';
import type { JobEvent } from '@mp3converter/shared/jobs';

/** Who made the request, as auth's /validate vouches. */
export interface User {
  username: string;
  admin: boolean;
  /** When the token that vouched for the user expires, epoch seconds (its `exp`). */
  exp?: number;
  /** Set when an API key vouched rather than a login token: the key's id and what it may do. */
  key?: { id: string; scopes: readonly ApiKeyScope[] };
}

export type AuthAnswer = { status: number; contentType: string | undefined; retryAfter?: string | undefined; body: Buffer };

export interface AuthClient {
  /** Forwards a login as is; auth's status and body come back unchanged. */
  /** `clientAddress`: the caller as this gateway's trusted proxies report it (auth limits failures per address). */
  login(headers: { authorization?: string; contentType?: string; clientAddress: string }, body: Buffer | undefined): Promise<AuthAnswer>;
  /** The user, or auth's refusal to pass through (401/403/429). Throws AuthUnavailableError when auth cannot answer. */
  validate(authorization: string): Promise<{ user: User } | { refused: AuthAnswer }>;
  /** Forwards a request about the caller's API keys (`/keys…`) as is; auth's status and body come back unchanged. */
  keys(request: {
    method: 'GET' | 'POST' | 'DELETE';
    path: string;
    authorization: string;
    contentType?: string | undefined;
    body?: Buffer | undefined;
  }): Promise<AuthAnswer>;
  ping(): Promise<void>;
}

export class AuthUnavailableError extends Error {
  constructor(cause?: unknown) {
    super('auth service unavailable', { cause });
    this.name = 'AuthUnavailableError';
  }
}

/**
 * The job store's roles the gateway uses (see @mp3converter/shared/jobs): each domain service asks for the
 * ones it needs; one store plays them all.
 */
export type { JobCancels, JobDispatchQueue, JobExpiry, JobLookup, JobRecords, JobUsage, JobViews } from '@mp3converter/shared/jobs';

/** One holder at a time per owner, across every gateway: a lease in the store, with an expiry. */
export interface OwnerLocks {
  /** Runs `work` holding the owner's lock; throws when the lock could not be had in time. */
  withLock<T>(owner: string, work: () => Promise<T>): Promise<T>;
}

/** What the gateway tells the rest of the system about jobs: events for watchers, requests for workers. */
export interface JobNotices {
  /** Best effort: the job's record is the truth, an event only tells watchers sooner. */
  publish(event: JobEvent): void;
  /** Best effort: the cancel flag on the job is the fallback, which the worker reads at its next lease renewal. */
  sendCancel(videoFid: string): Promise<void>;
}

export interface Mp3Deletion {
  /** Removes the MP3; done when there is none. */
  delete(mp3Fid: string): Promise<void>;
  /** Whether someone downloads it right now (the retention sweep then waits). */
  beingDownloaded(mp3Fid: string): Promise<boolean>;
}

export interface VideoFiles {
  /** Removes the video's files document and chunks; done when there is neither (also when there was none). */
  delete(videoFid: string): Promise<void>;
}

/**
 * Which uploads are being written, across every gateway: each holds a lease until its upload is accepted or
 * removed, renewed while its bytes arrive, so an expired lease means no gateway writes that upload any more.
 */
export interface UploadLeases {
  hold(videoFid: string, owner: string, until: Date): Promise<void>;
  renew(videoFid: string, until: Date): Promise<void>;
  release(videoFid: string): Promise<void>;
  /** Uploads whose lease ended before `now`, at most `limit`. */
  expired(now: Date, limit: number): Promise<string[]>;
}

export interface VideoQueue {
  /**
   * Resolves once the broker has confirmed the message; throws BrokerUnavailableError otherwise.
   * `traceparent`: the trace the message continues (the upload's), whenever it is published.
   */
  publish(message: ConversionMessage, traceparent?: string | null): Promise<void>;
}

/** How a video arrived: one multipart POST /upload, or a resumable (tus) upload. */
export type UploadKind = 'multipart' | 'resumable';

/** Uploads as metrics count them. */
export interface UploadMetrics {
  /** An upload was stored and recorded as a job: its size and how long it took, in seconds. */
  uploaded(kind: UploadKind, sizeBytes: number, seconds: number): void;
}

/** What an owner's uploads in progress hold of their limits. */
export interface ReservedNow {
  /** Uploads in progress: each a job to come. */
  count: number;
  /** The bytes they may still bring. */
  bytes: number;
}

/**
 * Job slots and bytes held by uploads in progress, across every gateway (documents in the store): an upload
 * holds its share from before its body is read until its job is recorded or it fails. A hold has an expiry,
 * renewed while its upload is alive, so a gateway that dies leaves nothing held for long. Decisions on an
 * owner's holds are made under the owner's lock (OwnerLocks), which is what makes them safe together.
 */
export interface UploadReservations {
  /** The owner's holds now; expired ones are removed first. */
  read(owner: string): Promise<ReservedNow>;
  hold(owner: string, hold: { id: string; bytes: number; until: Date }): Promise<void>;
  renew(id: string, until: Date): Promise<void>;
  /** Done when there is no such hold (any more). */
  release(id: string): Promise<void>;
}
