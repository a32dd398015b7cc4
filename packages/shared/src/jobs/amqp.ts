import type { ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from '../amqp/index.js';
import type { Logger } from '../logger/index.js';
import { JOB_CONTROL_EXCHANGE, JOB_EVENTS_EXCHANGE, type JobControl, type JobEvent, jobControlSchema, jobEventSchema, routingKeyOf } from './events.js';

/** Progress ticks that nobody reads within this long are dropped by the broker: a later one says more. */
const PROGRESS_TTL_MS = 10_000;
/** A cancel request nobody took within this long is dropped: the flag on the job is the fallback. */
const CANCEL_TTL_MS = 60_000;

/**
 * What services tell each other about jobs: events on `job.events` (state changes persistent, progress ticks
 * transient and expiring) and requests on `job.control`. Publishing an event is best effort: the job's own
 * record is the truth, events only tell watchers sooner.
 */
export class AmqpJobEvents {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly logger: Logger,
  ) {}

  publish(event: JobEvent): void {
    const progress = event.type === 'progress';
    this.amqp
      .publishTo(JOB_EVENTS_EXCHANGE, routingKeyOf(event), Buffer.from(JSON.stringify(event)), {
        persistent: !progress,
        ...(progress ? { expiration: String(PROGRESS_TTL_MS) } : {}),
      })
      .catch((err: unknown) => this.logger.debug({ err, videoFid: event.video_fid }, 'job event not published'));
  }

  /** Asks the worker converting the job to stop; resolves once the broker took the request. */
  async sendCancel(videoFid: string): Promise<void> {
    const control: JobControl = { action: 'cancel', video_fid: videoFid };
    await this.amqp.publishTo(JOB_CONTROL_EXCHANGE, 'job.cancel', Buffer.from(JSON.stringify(control)), {
      persistent: false,
      expiration: String(CANCEL_TTL_MS),
    });
  }
}

/** Each message's body as `schema` reads it; anything else is dropped. */
const reader =
  <T>(schema: { safeParse(body: unknown): { success: true; data: T } | { success: false } }, deliver: (value: T) => void) =>
  (message: ConsumeMessage): void => {
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch {
      return;
    }
    const parsed = schema.safeParse(body);
    if (parsed.success) deliver(parsed.data);
  };

/** Job events from the broker (a queue of this process's own), each handed to `deliver`. */
export function subscribeJobEvents(amqp: AmqpConnection, deliver: (event: JobEvent) => void): Promise<void> {
  return amqp.subscribe({ exchange: JOB_EVENTS_EXCHANGE, routingKeys: ['job.#'], onMessage: reader(jobEventSchema, deliver) });
}

/** Requests about running jobs (cancel), each handed to `deliver`. */
export function subscribeJobControl(amqp: AmqpConnection, deliver: (control: JobControl) => void): Promise<void> {
  return amqp.subscribe({ exchange: JOB_CONTROL_EXCHANGE, routingKeys: ['job.cancel'], onMessage: reader(jobControlSchema, deliver) });
}
