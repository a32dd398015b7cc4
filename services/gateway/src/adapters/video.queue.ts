import type { AmqpConnection } from '@mp3converter/shared/amqp';
import { type ConversionMessage, encodeMessage } from '@mp3converter/shared/contracts';
import type { VideoQueue } from '../domain/ports.js';

export class AmqpVideoQueue implements VideoQueue {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly queue: string,
  ) {}

  publish(message: ConversionMessage, traceparent?: string | null): Promise<void> {
    return this.amqp.publish(this.queue, encodeMessage(message), { messageId: message.video_fid, ...(traceparent ? { headers: { traceparent } } : {}) });
  }
}
