import type { AmqpConnection } from '@mp3converter/shared/amqp';
import { JOB_EVENTS_EXCHANGE, type JobEvent, routingKeyOf } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobEvents } from '../domain/ports.js';

/** Progress ticks that nobody reads within this long are dropped by the broker: a later one says more. */
const PROGRESS_TTL_MS = 10_000;

/**
 * Job events on the `job.events` topic exchange. Progress ticks are transient and expire; state changes are
 * persistent. Publishing is best effort: the job's own record is the truth, events only tell watchers sooner.
 */
export class AmqpJobEvents implements JobEvents {
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
}
