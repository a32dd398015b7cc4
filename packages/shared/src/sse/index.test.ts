import { describe, expect, it } from 'vitest';
import { SseParser } from './index.js';

describe('SseParser', () => {
  it('when a stream arrives in pieces with comments and CRLF, then it yields whole events and remembers id and retry', () => {
    const parser = new SseParser();
    const text = 'retry: 3000\n\n: keep-alive\n\nid: 17\nevent: ready\ndata: {}\n\nid: 18\r\nevent: job\r\ndata: {"a":\r\ndata: 1}\r\n\r\n';
    const events = [];
    for (let i = 0; i < text.length; i += 5) events.push(...parser.feed(text.slice(i, i + 5)));
    expect(events).toEqual([
      { id: '17', event: 'ready', data: '{}' },
      { id: '18', event: 'job', data: '{"a":\n1}' },
    ]);
    expect(parser.lastEventId).toBe('18');
    expect(parser.retryMs).toBe(3000);
  });

  it('when an event has no data, or the stream stops mid-event, then nothing is yielded for it', () => {
    const parser = new SseParser();
    expect(parser.feed('event: job\n\ndata: x')).toEqual([]);
    expect(parser.feed('\n\n')).toEqual([{ id: undefined, event: 'message', data: 'x' }]);
  });

  it('when the stream is cut after an id but before its event ends, then that id is not taken as seen', () => {
    const parser = new SseParser();
    parser.feed('id: 5\ndata: a\n\n');
    expect(parser.feed('id: 6\ndata: b\n')).toEqual([]);
    expect(parser.lastEventId).toBe('5');
  });

  it('when a CR ends a piece, then a LF at the start of the next is the same line end', () => {
    const parser = new SseParser();
    expect(parser.feed('data: a\r')).toEqual([]);
    expect(parser.feed('\n\r\n')).toEqual([{ id: undefined, event: 'message', data: 'a' }]);
  });
});
