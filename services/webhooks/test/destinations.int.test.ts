import { waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type System, jobEnded, publishEvent, startSystem } from './harness.js';
import { type Receiver, startReceiver } from './receiver.js';

/*
 * A deployment with the default rules (no allowlist): nothing inside may be reached. Names resolve through
 * a table the test holds, on the gateway's check at registration and on the worker's socket alike; the only
 * traffic is to a receiver on 127.0.0.1, which must see none of it.
 */
const table = new Map<string, string[][]>();
const asked: string[] = [];
const resolve = async (host: string) => {
  asked.push(host);
  const answers = table.get(host);
  if (!answers) throw Object.assign(new Error(`${host} not found`), { code: 'ENOTFOUND' });
  // Each lookup takes the next answer; the last one stays.
  const next = answers.length > 1 ? answers.shift()! : answers[0]!;
  return next.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

let system: System;
let receiver: Receiver;
beforeAll(async () => {
  system = await startSystem({}, resolve);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await system.stop();
});

describe('destinations that lead inside', () => {
  it('when a name resolves outside at registration and to 127.0.0.1 when the delivery connects, then the delivery is refused and nothing reaches 127.0.0.1', async () => {
    const { email, authorization } = await system.user();
    table.set('rebind.test', [['93.184.216.34'], ['127.0.0.1']]);
    const made = await system.api(authorization, 'POST', '/webhooks', { url: `http://rebind.test:${receiver.port}/hook` });
    expect(made.status).toBe(201);
    expect(asked.filter((h) => h === 'rebind.test')).toHaveLength(1);

    await publishEvent(jobEnded(email, 'done'));
    const delivery = await waitFor(
      async () => {
        const res = await system.api(authorization, 'GET', `/webhooks/${made.body.id}/deliveries`);
        return res.body.deliveries?.[0]?.state === 'failed' ? res.body.deliveries[0] : undefined;
      },
      { what: 'the refused delivery' },
    );
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_attempt).toMatchObject({ outcome: 'refused_destination', status: null, error: 'rebind.test resolves to a loopback address' });
    expect(asked.filter((h) => h === 'rebind.test')).toHaveLength(2);
    expect(receiver.connections).toBe(0);
  });

  it.each([
    ['inside.test', ['10.0.0.5'], 'a private address'],
    ['metadata.test', ['169.254.169.254'], 'a link-local address (cloud metadata lives there)'],
    ['mapped.test', ['::ffff:169.254.169.254'], 'a link-local address (cloud metadata lives there)'],
    ['v6meta.test', ['fd00:ec2::254'], 'a unique-local address (cloud metadata lives there)'],
    ['cgnat.test', ['100.100.100.200'], 'a carrier-grade NAT address'],
    ['mixed.test', ['93.184.216.34', '127.0.0.1'], 'a loopback address'],
    ['localhost', ['127.0.0.1', '::1'], 'a loopback address'],
  ])('when %s resolves to %j at registration, then it is refused as %s', async (host, addresses, kind) => {
    const { authorization } = await system.user();
    table.set(host, [addresses]);
    const res = await system.api(authorization, 'POST', '/webhooks', { url: `https://${host}/hook` });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'destination_refused', message: `url leads inside: ${host} resolves to ${kind}` });
  });

  it('when a name does not resolve, then it is refused as unknown', async () => {
    const { authorization } = await system.user();
    const res = await system.api(authorization, 'POST', '/webhooks', { url: 'https://nowhere.test/hook' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unknown_host');
  });

  it('when an international name is registered, then it is stored in punycode, the form that is resolved and shown', async () => {
    const { authorization } = await system.user();
    table.set('xn--bcher-kva.test', [['93.184.216.34']]);
    const res = await system.api(authorization, 'POST', '/webhooks', { url: 'https://BÜCHER.test/hook' });
    expect(res.status).toBe(201);
    expect(res.body.url).toBe('https://xn--bcher-kva.test/hook');
    expect(asked).toContain('xn--bcher-kva.test');
  });

  it.each([
    `http://127.0.0.1:1999/`,
    'http://2130706433:1999/',
    'http://0x7f.1:1999/',
    'http://0177.0.0.1:1999/',
    'http://127.1:1999/',
    'http://[::ffff:127.0.0.1]:1999/',
    'http://[::1]:1999/',
    'http://0:1999/',
  ])('when loopback is named as %s without an allowlist, then it is refused', async (url) => {
    const { authorization } = await system.user();
    const res = await system.api(authorization, 'POST', '/webhooks', { url });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('destination_refused');
  });
});
