import type { AmqpConnection } from '@mp3converter/shared/amqp';
import { type FailureMessage, type Mp3Message, encodeMessage } from '@mp3converter/shared/contracts';
import type { ResultPublisher } from '../domain/ports.js';

export class AmqpResultPublisher implements ResultPublisher {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly queues: { mp3: string; failed: string },
  ) {}

  publishMp3(message: Mp3Message): Promise<void> {
    return this.amqp.publish(this.queues.mp3, encodeMessage(message), { messageId: message.mp3_fid });
  }

  publishFailure(message: FailureMessage): Promise<void> {
    return this.amqp.publish(this.queues.failed, encodeMessage(message), { messageId: `failed:${message.video_fid}` });
  }
}
