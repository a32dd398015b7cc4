/**
 * GET /events read with fetch, not EventSource: EventSource cannot send the Authorization header. Reconnects
 * after a drop with `Last-Event-ID`, so the gateway replays what changed meanwhile.
 */
export interface StreamEvent {
  event: string;
  id: string | undefined;
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
  let lastId: string | undefined;
  let retryMs = 3000;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { authorization: authorization(), accept: 'text/event-stream' };
      if (lastId) headers['last-event-id'] = lastId;
      const res = await fetch('/events', { headers, signal, cache: 'no-store' });
      if (res.status === 401) return onUnauthorized();
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      onStatus(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const parsed = parseBlock(block);
          if (parsed.retry) retryMs = parsed.retry;
          if (parsed.id) lastId = parsed.id;
          if (parsed.event) onEvent(parsed.event);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onStatus(false);
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

function parseBlock(block: string): { event?: StreamEvent; id?: string; retry?: number } {
  let name = 'message';
  let id: string | undefined;
  let retry: number | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  if (data.length === 0) return { ...(id ? { id } : {}), ...(retry ? { retry } : {}) };
  let payload: Record<string, unknown> = {};
  try {
    payload = JSON.parse(data.join('\n')) as Record<string, unknown>;
  } catch {
    // a comment-like or malformed data line: ignored
  }
  return { event: { event: name, id, data: payload }, ...(id ? { id } : {}), ...(retry ? { retry } : {}) };
}
