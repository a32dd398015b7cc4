import { SseParser } from '@mp3converter/shared/sse';

/**
 * GET /events read with fetch, not EventSource: EventSource cannot send the Authorization header. Reconnects
 * after a drop with `Last-Event-ID`, so the gateway replays what changed meanwhile.
 */
export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface EventStreamOptions {
  authorization: () => string;
  onEvent: (event: StreamEvent) => void;
  onUnauthorized: () => void;
  onStatus: (connected: boolean) => void;
}

/** Follows the stream until `signal` aborts. */
export async function followEvents({ authorization, onEvent, onUnauthorized, onStatus }: EventStreamOptions, signal: AbortSignal): Promise<void> {
  let lastEventId: string | undefined;
  let retryMs = 3000;
  while (!signal.aborted) {
    // A parser per connection: half an event left by a dropped one must not run into the next stream.
    const parser = new SseParser();
    try {
      const headers: Record<string, string> = { authorization: authorization(), accept: 'text/event-stream' };
      if (lastEventId) headers['last-event-id'] = lastEventId;
      const res = await fetch('/events', { headers, signal, cache: 'no-store' });
      // 403: the token expired (the gateway ends a stream when its token does), or was refused.
      if (res.status === 401 || res.status === 403) return onUnauthorized();
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      onStatus(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const { event, data } of parser.feed(value)) onEvent({ event, data: parse(data) });
        lastEventId = parser.lastEventId ?? lastEventId;
        retryMs = parser.retryMs ?? retryMs;
      }
    } catch {
      if (signal.aborted) return;
    }
    onStatus(false);
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

function parse(data: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(data);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
