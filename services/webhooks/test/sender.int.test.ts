import { DEFAULT_WEBHOOK_PORTS, DestinationPolicy } from '@mp3converter/shared/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { GuardedHttpSender } from '../src/adapters/guarded-http.sender.js';
import { type Receiver, rebindingResolver, startReceiver } from './receiver.js';

/*
 * The sender against a real HTTP server on 127.0.0.1. Traffic goes to loopback only: where a name is made
 * to resolve elsewhere first, that answer is consumed by a request that is refused or never connects.
 */
const ownReceivers = new DestinationPolicy({ allow: ['127.0.0.1/32'], block: [], ports: DEFAULT_WEBHOOK_PORTS });
const defaults = new DestinationPolicy({ allow: [], block: [], ports: DEFAULT_WEBHOOK_PORTS });
const request = (url: string) => ({ url, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' }, body: '{"type":"job.done"}' });

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('the guarded sender', () => {
  it("when the deployment's own receiver on loopback is allowed, then the webhook is POSTed with its headers and body", async () => {
    receiver = await startReceiver(() => ({ status: 200, body: 'thanks' }));
    const result = await new GuardedHttpSender(ownReceivers, { timeoutMs: 5_000, excerptBytes: 1024 }).send(request(receiver.url('/in?x=1')));
    expect(result).toMatchObject({ kind: 'answered', status: 200, excerpt: 'thanks', retryAfterMs: null });
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]).toMatchObject({ method: 'POST', path: '/in?x=1', body: '{"type":"job.done"}' });
    expect(receiver.received[0]!.headers).toMatchObject({ 'webhook-id': 'msg_1', 'content-type': 'application/json', host: `127.0.0.1:${receiver.port}` });
  });

  it('when loopback is not allowed, then a literal loopback URL in any of its forms is refused without connecting', async () => {
    receiver = await startReceiver();
    const sender = new GuardedHttpSender(defaults, { timeoutMs: 5_000, excerptBytes: 1024 });
    for (const url of [
      receiver.url(),
      `http://2130706433:${receiver.port}/`,
      `http://0x7f.1:${receiver.port}/`,
      `http://[::ffff:127.0.0.1]:${receiver.port}/`,
    ]) {
      expect(await sender.send(request(url)), url).toMatchObject({ kind: 'refused_destination' });
    }
    expect(receiver.connections).toBe(0);
  });

  it('when a name resolves first to an outside address and then to 127.0.0.1, then the connection made with the second answer is refused: nothing reaches the receiver', async () => {
    receiver = await startReceiver();
    // The first answer is what a check made before connecting would see; the socket asks again.
    const dns = rebindingResolver(['93.184.216.34'], ['127.0.0.1']);
    const url = `http://rebind.example:${receiver.port}/hook`;
    const firstLook = await dns.resolve('rebind.example');
    expect(firstLook.every(({ address }) => defaults.checkAddress(address).allowed)).toBe(true);
    const result = await new GuardedHttpSender(defaults, { timeoutMs: 5_000, excerptBytes: 1024, resolve: dns.resolve }).send(request(url));
    expect(result).toMatchObject({ kind: 'refused_destination', error: 'rebind.example resolves to a loopback address' });
    expect(dns.asked).toEqual(['rebind.example', 'rebind.example']);
    expect(receiver.connections).toBe(0);
  });

  it('when a name resolves to an outside and an inside address at once, then the whole name is refused', async () => {
    receiver = await startReceiver();
    const dns = rebindingResolver(['93.184.216.34', '127.0.0.1']);
    const result = await new GuardedHttpSender(defaults, { timeoutMs: 5_000, excerptBytes: 1024, resolve: dns.resolve }).send(
      request(`http://mixed.example:${receiver.port}/`),
    );
    expect(result).toMatchObject({ kind: 'refused_destination' });
    expect(receiver.connections).toBe(0);
  });

  it.each([
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::1', 'an unspecified, loopback or IPv4-compatible address'],
  ])('when a name resolves to %s, then it is refused as %s, without naming the address', async (address, kind) => {
    receiver = await startReceiver();
    const dns = rebindingResolver([address]);
    const result = await new GuardedHttpSender(defaults, { timeoutMs: 5_000, excerptBytes: 1024, resolve: dns.resolve }).send(
      request(`http://inside.example:${receiver.port}/`),
    );
    expect(result).toEqual({ kind: 'refused_destination', durationMs: expect.any(Number), error: `inside.example resolves to ${kind}` });
    expect(receiver.connections).toBe(0);
  });

  it("when the socket's peer is refused although the lookup let it through, then the request is torn down before a byte is sent", async () => {
    receiver = await startReceiver();
    // A policy whose URL and lookup checks pass but whose check of the connected peer does not: the last guard alone.
    class PeerRefusing extends DestinationPolicy {
      override checkAddress(address: string) {
        return address === '127.0.0.1' ? { allowed: false as const, reason: 'x', kind: 'a refused peer' } : super.checkAddress(address);
      }
      override checkUrl(raw: unknown) {
        return ownReceivers.checkUrl(raw);
      }
    }
    const result = await new GuardedHttpSender(new PeerRefusing({ allow: [], block: [], ports: DEFAULT_WEBHOOK_PORTS }), {
      timeoutMs: 5_000,
      excerptBytes: 1024,
    }).send(request(receiver.url()));
    expect(result).toMatchObject({ kind: 'refused_destination', error: '127.0.0.1 leads to a refused peer' });
    expect(receiver.received).toHaveLength(0);
  });

  it('when the receiver redirects, then the redirect is an answer, not followed', async () => {
    receiver = await startReceiver((r) =>
      r.path === '/moved' ? { status: 307, headers: { location: 'http://169.254.169.254/latest/meta-data/' } } : { status: 200 },
    );
    const result = await new GuardedHttpSender(ownReceivers, { timeoutMs: 5_000, excerptBytes: 1024 }).send(request(receiver.url('/moved')));
    expect(result).toMatchObject({ kind: 'answered', status: 307 });
    expect(receiver.received.map((r) => r.path)).toEqual(['/moved']);
  });

  it('when the receiver never answers, then the attempt ends at the timeout', async () => {
    receiver = await startReceiver(() => 'hang');
    const result = await new GuardedHttpSender(ownReceivers, { timeoutMs: 300, excerptBytes: 1024 }).send(request(receiver.url()));
    expect(result).toMatchObject({ kind: 'timeout', error: 'no answer within 300 ms' });
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('when the receiver answers with a huge body, then only the excerpt is read and kept', async () => {
    receiver = await startReceiver(() => ({ status: 500, body: Buffer.alloc(20 * 1024 * 1024, 'x') }));
    const result = await new GuardedHttpSender(ownReceivers, { timeoutMs: 5_000, excerptBytes: 64 }).send(request(receiver.url()));
    expect(result).toMatchObject({ kind: 'answered', status: 500, excerpt: 'x'.repeat(64) });
  });

  it('when nothing listens, then it is a network error that says so', async () => {
    receiver = await startReceiver();
    const port = receiver.port;
    await receiver.close();
    receiver = undefined;
    const result = await new GuardedHttpSender(ownReceivers, { timeoutMs: 5_000, excerptBytes: 64 }).send(request(`http://127.0.0.1:${port}/`));
    expect(result).toMatchObject({ kind: 'network_error', error: 'connection refused (ECONNREFUSED)' });
  });

  it('when the receiver asks to slow down, then its Retry-After is read', async () => {
    receiver = await startReceiver(() => ({ status: 429, headers: { 'retry-after': '120' } }));
    const result = await new GuardedHttpSender(ownReceivers, { timeoutMs: 5_000, excerptBytes: 64 }).send(request(receiver.url()));
    expect(result).toMatchObject({ kind: 'answered', status: 429, retryAfterMs: 120_000 });
  });
});
