import type { AmqpConnection } from '@mp3converter/shared/amqp';
import { JOB_CONTROL_EXCHANGE, JOB_EVENTS_EXCHANGE, type JobControl, type JobEvent, jobEventSchema, routingKeyOf } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobNotices } from '../domain/ports.js';

/** Job events out on `job.events`, cancel requests out on `job.control`. */
export class AmqpJobNotices implements JobNotices {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly logger: Logger,
  ) {}

  publish(event: JobEvent): void {
    this.amqp
      .publishTo(JOB_EVENTS_EXCHANGE, routingKeyOf(event), Buffer.from(JSON.stringify(event)))
      .catch((err: unknown) => this.logger.debug({ err, videoFid: event.video_fid }, 'job event not published'));
  }

  async sendCancel(videoFid: string): Promise<void> {
    const control: JobControl = { action: 'cancel', video_fid: videoFid };
    await this.amqp.publishTo(JOB_CONTROL_EXCHANGE, 'job.cancel', Buffer.from(JSON.stringify(control)), { persistent: false, expiration: '60000' });
  }
}

/** Job events from the broker, each handed to `deliver`; anything that is not one is dropped. */
export function subscribeJobEvents(amqp: AmqpConnection, deliver: (event: JobEvent) => void): Promise<void> {
  return amqp.subscribe({
    exchange: JOB_EVENTS_EXCHANGE,
    routingKeys: ['job.#'],
    onMessage: (message) => {
      let body: unknown;
      try {
        body = JSON.parse(message.content.toString('utf8'));
      } catch {
        return;
      }
      const event = jobEventSchema.safeParse(body);
      if (event.success) deliver(event.data);
    },
  });
}
