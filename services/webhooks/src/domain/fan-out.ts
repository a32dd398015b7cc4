import type { JobEvent } from '@mp3converter/shared/jobs';
import { type WebhookEvent, deliveryIdOf, payloadOf, webhookEventOf } from '@mp3converter/shared/webhooks';
import type { DeliveryInbox } from './ports.js';

/**
 * A job event becomes one delivery per endpoint that hears it, each with its own stable id: the same event
 * arriving twice (a redelivery by the broker, both publishers telling of it) adds nothing. Events that are
 * not a job's end are nobody's webhook.
 */
export async function fanOut(event: JobEvent, inbox: DeliveryInbox, gatewayUrl: string): Promise<{ event: WebhookEvent | undefined; added: number }> {
  const type = webhookEventOf(event);
  if (!type) return { event: undefined, added: 0 };
  const endpoints = await inbox.endpointsFor(event.owner, type, event.video_fid);
  if (endpoints.length === 0) return { event: type, added: 0 };
  const payload = payloadOf(event, type, gatewayUrl);
  let added = 0;
  for (const endpointId of endpoints) {
    const fresh = await inbox.addDelivery({
      id: deliveryIdOf(endpointId, event.video_fid, type),
      endpointId,
      owner: event.owner,
      event: type,
      videoFid: event.video_fid,
      payload,
    });
    if (fresh) added++;
  }
  return { event: type, added };
}
