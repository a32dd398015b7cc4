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
  const parser = new SseParser();
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { authorization: authorization(), accept: 'text/event-stream' };
      if (parser.lastEventId) headers['last-event-id'] = parser.lastEventId;
      const res = await fetch('/events', { headers, signal, cache: 'no-store' });
      if (res.status === 401) return onUnauthorized();
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      onStatus(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const { event, data } of parser.feed(value)) onEvent({ event, data: parse(data) });
      }
    } catch {
      if (signal.aborted) return;
    }
    onStatus(false);
    await new Promise((resolve) => setTimeout(resolve, parser.retryMs ?? 3000));
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
