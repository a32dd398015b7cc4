import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newSigningSecret, signedHeaders } from './signature.js';

const body = JSON.stringify({ type: 'job.done', timestamp: '2025-01-01T00:00:00.000Z', data: { video_fid: 'a'.repeat(24) } });

describe('webhook signatures', () => {
  it('when a body is signed, then the Standard Webhooks reference library verifies it with the secret', () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const headers = signedHeaders([secret], 'msg_1', body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('when the body, the id or the timestamp is changed, or another secret is used, then verification fails', () => {
    const secret = newSigningSecret();
    const headers = { ...signedHeaders([secret], 'msg_1', body) };
    const wh = new Webhook(secret);
    expect(() => wh.verify(`${body} `, headers)).toThrow();
    expect(() => wh.verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
    expect(() => wh.verify(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) })).toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(body, headers)).toThrow();
  });

  it('when a secret was rotated, then both signatures are sent, and a receiver with either secret verifies the message', () => {
    const [current, previous] = [newSigningSecret(), newSigningSecret()];
    const headers = { ...signedHeaders([current, previous], 'msg_1', body) };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toBeTruthy();
    expect(new Webhook(previous).verify(body, headers)).toBeTruthy();
  });

  it('when the timestamp is older than the tolerance receivers apply, then the reference library refuses the replay', () => {
    const secret = newSigningSecret();
    const headers = { ...signedHeaders([secret], 'msg_1', body, new Date(Date.now() - 10 * 60_000)) };
    expect(() => new Webhook(secret).verify(body, headers)).toThrow(/timestamp/i);
  });

  it('when no secret is given, then nothing is signed', () => {
    expect(() => signedHeaders([], 'msg_1', body)).toThrow();
  });
});
