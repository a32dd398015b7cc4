import { waitFor } from '@mp3converter/shared/testing';

export interface StreamEvent {
  id: string | undefined;
  event: string;
  data: Record<string, any>;
}

/** A Server-Sent Events stream read as a browser's fetch-based client would, with the token in a header. */
export interface EventStream {
  status: number;
  events: StreamEvent[];
  /** Comment lines seen (keep-alives). */
  comments: number;
  /** Resolves with the first event (from the start) that `match` accepts. */
  next(match: (event: StreamEvent) => boolean, what?: string, timeoutMs?: number): Promise<StreamEvent>;
  close(): void;
}

export async function openEvents(baseUrl: string, authorization: string, lastEventId?: string): Promise<EventStream> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/events`, {
    headers: { authorization, accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: abort.signal,
  });
  const stream: EventStream = {
    status: res.status,
    events: [],
    comments: 0,
    next: (match, what = 'an event', timeoutMs = 30_000) => waitFor(() => stream.events.find(match), { timeoutMs, what }),
    close: () => abort.abort(),
  };
  if (res.status !== 200 || !res.body) return stream;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) stream.comments++;
            const colon = line.indexOf(':');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          if (fields.has('data')) stream.events.push({ id: fields.get('id'), event: fields.get('event') ?? 'message', data: JSON.parse(fields.get('data')!) });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return stream;
}
