import type { ConversionMessage, Job } from '@mp3converter/shared/contracts';

/** Who made the request, as auth's /validate vouches. */
export interface User {
  username: string;
  admin: boolean;
}

export type AuthAnswer = { status: number; contentType: string | undefined; retryAfter?: string | undefined; body: Buffer };

export interface AuthClient {
  /** Forwards a login as is; auth's status and body come back unchanged. */
  login(headers: { authorization?: string; contentType?: string }, body: Buffer | undefined): Promise<AuthAnswer>;
  /** The user, or auth's refusal to pass through (401/403). Throws AuthUnavailableError when auth cannot answer. */
  validate(authorization: string): Promise<{ user: User } | { refused: AuthAnswer }>;
  ping(): Promise<void>;
}

export class AuthUnavailableError extends Error {
  constructor(cause?: unknown) {
    super('auth service unavailable', { cause });
    this.name = 'AuthUnavailableError';
  }
}

export interface JobRepository {
  create(videoFid: string, owner: string, filename: string | null): Promise<void>;
  get(videoFid: string): Promise<Job | undefined>;
  remove(videoFid: string): Promise<void>;
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
  /** Resolves once the broker has confirmed the message; throws BrokerUnavailableError otherwise. */
  publish(message: ConversionMessage): Promise<void>;
}
