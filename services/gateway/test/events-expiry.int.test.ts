import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtTokens } from '../../auth/src/adapters/jwt.tokens.js';
import { type Stack, signIn, startStack } from './harness.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ EVENTS_KEEPALIVE_MS: '200' });
});
afterAll(async () => {
  await stack?.stop();
});

/** Reads a response body to its end; resolves with when it ended, or rejects once `timeoutMs` has passed with it still open. */
async function endOf(body: ReadableStream<Uint8Array>, timeoutMs: number): Promise<{ endedAt: number; text: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel();
  }, timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (timedOut) throw new Error(`still open after ${timeoutMs} ms`);
      if (done) return { endedAt: Date.now(), text };
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
}

describe('an event stream lives no longer than its token', () => {
  it('when the token of an open stream expires, then the stream ends, and a reconnect with it is refused', async () => {
    const user = await signIn(stack);
    // A token of the user's that expires in two seconds, signed as auth signs them.
    const token = new JwtTokens(stack.authConfig.JWT_SECRET, 2).issue({ username: user.email, admin: false });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    const res = await fetch(`${stack.url}/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const cancelled = Symbol('still open');
    const ended = await endOf(res.body!, 20_000).catch(() => cancelled);
    expect(ended, 'the stream ended by itself').not.toBe(cancelled);
    const { endedAt, text } = ended as { endedAt: number; text: string };
    expect(text).toContain('event: ready');
    // Not before the token ran out (exp is in whole seconds).
    expect(endedAt).toBeGreaterThanOrEqual(exp * 1000);
    expect((await fetch(`${stack.url}/events`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  });
});
