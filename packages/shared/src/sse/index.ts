/**
 * Server-Sent Events as clients read them from a fetch body (EventSource cannot send the Authorization
 * header): the CLI and the web page. No Node or DOM API, so both can use it.
 */

/** One Server-Sent Event: `event` defaults to `message`, `data` is the joined data lines. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * The event-stream format as the HTML standard has it, fed in pieces as they arrive: lines end in LF, CRLF
 * or CR; `:` lines are comments; a blank line ends an event; an event without data is dropped; `id` and
 * `retry` are remembered for the reconnect.
 */
export class SseParser {
  lastEventId: string | undefined;
  /** The reconnect delay the server asked for, ms. */
  retryMs: number | undefined;
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      // A CR at the very end may be the first half of a CRLF: wait for the next piece.
      if (!match || (match[0] === '\r' && match.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      // The id counts as seen once its event is whole (HTML standard: set at dispatch), so a reconnect after a
      // cut in the middle of an event asks for it again.
      this.lastEventId = this.id;
      const event = this.data.length ? { id: this.id, event: this.event || 'message', data: this.data.join('\n') } : undefined;
      this.data = [];
      this.event = '';
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}
