import { AppError } from '@mp3converter/shared/errors';
import { createLogger } from '@mp3converter/shared/logger';
import { DEFAULT_WEBHOOK_PORTS, DestinationPolicy, type WebhookView } from '@mp3converter/shared/webhooks';
import { describe, expect, it } from 'vitest';
import { type ResolveHost, type WebhookRegistry, WebhooksService } from './webhooks.service.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const policy = new DestinationPolicy({ allow: [], block: [], ports: DEFAULT_WEBHOOK_PORTS });
const settings = { maxPerUser: 2, secretOverlapMs: 86_400_000, notifyUrlTtlMs: 604_800_000, resolveTimeoutMs: 200 };

/** The registry in memory: enough of it to see what the service asks for and answers. */
function memoryRegistry() {
  const endpoints: (WebhookView & { owner: string })[] = [];
  let n = 0;
  const registry: WebhookRegistry = {
    async register(input, max) {
      if (endpoints.filter((e) => e.owner === input.owner).length >= max) return undefined;
      const view: WebhookView = {
        id: `ep_${String(++n).padStart(24, '0')}`,
        url: input.url,
        events: input.events,
        description: input.description,
        video_fid: null,
        created_at: new Date().toISOString(),
        expires_at: null,
        previous_secret_expires_at: null,
      };
      endpoints.push({ ...view, owner: input.owner });
      return { view, secret: 'whsec_x' };
    },
    registerForJob: async () => {
      throw new Error('not used');
    },
    list: async (owner) => endpoints.filter((e) => e.owner === owner),
    get: async (owner, id) => endpoints.find((e) => e.owner === owner && e.id === id),
    remove: async (owner, id) => endpoints.some((e) => e.owner === owner && e.id === id),
    rotateSecret: async () => undefined,
    listDeliveries: async () => undefined,
    getDelivery: async () => undefined,
    redeliver: async () => 'not-found',
  };
  return { registry, endpoints };
}

const answers =
  (table: Record<string, string[] | Error>): ResolveHost =>
  async (host) => {
    const found = table[host];
    if (found instanceof Error) throw found;
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  };

const refusal = async (p: Promise<unknown>): Promise<{ status: number; code: string; message: string }> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const { status, code, message } = err as AppError;
  return { status, code, message };
};

describe('registering webhooks', () => {
  it('when a URL names a host that resolves outside, then it is registered as parsed, with every event by default', async () => {
    const { registry } = memoryRegistry();
    const service = new WebhooksService(registry, policy, answers({ 'hooks.example.com': ['93.184.216.34'] }), settings, logger);
    const made = await service.register('ann', { url: 'HTTPS://Hooks.Example.com/in' });
    expect(made).toMatchObject({ url: 'https://hooks.example.com/in', events: ['job.done', 'job.failed', 'job.cancelled'], secret: 'whsec_x' });
  });

  it('when a name resolves inside, then it is refused saying what kind of address, not which', async () => {
    const service = new WebhooksService(memoryRegistry().registry, policy, answers({ 'db.corp.example': ['10.1.2.3'] }), settings, logger);
    expect(await refusal(service.register('ann', { url: 'http://db.corp.example/' }))).toEqual({
      status: 400,
      code: 'destination_refused',
      message: 'url leads inside: db.corp.example resolves to a private address',
    });
  });

  it('when a name does not exist, then it is refused as unknown; when the resolver is slow or away, then it is taken (the sender checks again)', async () => {
    const slow: ResolveHost = () => new Promise(() => undefined);
    const away = answers({ 'flaky.example': Object.assign(new Error('try again'), { code: 'EAI_AGAIN' }) });
    expect(
      await refusal(new WebhooksService(memoryRegistry().registry, policy, answers({}), settings, logger).register('ann', { url: 'http://nope.example/' })),
    ).toMatchObject({
      status: 400,
      code: 'unknown_host',
    });
    await expect(
      new WebhooksService(memoryRegistry().registry, policy, slow, settings, logger).register('ann', { url: 'http://slow.example/' }),
    ).resolves.toMatchObject({
      url: 'http://slow.example/',
    });
    await expect(
      new WebhooksService(memoryRegistry().registry, policy, away, settings, logger).register('ann', { url: 'http://flaky.example/' }),
    ).resolves.toMatchObject({
      url: 'http://flaky.example/',
    });
  });

  it('when the body is not a registration (unknown keys, unknown events, wrong types), then it is refused naming the problems', async () => {
    const service = new WebhooksService(memoryRegistry().registry, policy, answers({}), settings, logger);
    for (const body of [
      undefined,
      null,
      [],
      'http://x.example/',
      { url: 'https://93.184.216.34/', events: ['job.queued'] },
      { url: 'https://93.184.216.34/', events: [] },
      { url: 'https://93.184.216.34/', secret: 'whsec_mine' },
      { url: 'https://93.184.216.34/', description: 'x'.repeat(201) },
      { url: 42 },
    ]) {
      expect(await refusal(service.register('ann', body)), JSON.stringify(body)).toMatchObject({ status: 400, code: 'invalid_body' });
    }
  });

  it('when the user has as many endpoints as allowed, then one more is refused with 409', async () => {
    const service = new WebhooksService(memoryRegistry().registry, policy, answers({}), settings, logger);
    await service.register('ann', { url: 'https://93.184.216.34/1' });
    await service.register('ann', { url: 'https://93.184.216.34/2' });
    expect(await refusal(service.register('ann', { url: 'https://93.184.216.34/3' }))).toMatchObject({ status: 409, code: 'too_many_webhooks' });
    await expect(service.register('bob', { url: 'https://93.184.216.34/1' })).resolves.toBeDefined();
  });

  it("when an id is someone else's or not an id at all, then it is not found, never a 400 that tells them apart", async () => {
    const { registry } = memoryRegistry();
    const service = new WebhooksService(registry, policy, answers({}), settings, logger);
    const { id } = await service.register('ann', { url: 'https://93.184.216.34/' });
    for (const bad of [id.toUpperCase(), '../ep', `${id}x`, '$where', '']) {
      expect(await refusal(service.get('ann', bad))).toMatchObject({ status: 404, code: 'webhook_not_found' });
    }
    expect(await refusal(service.get('bob', id))).toMatchObject({ status: 404, code: 'webhook_not_found' });
    expect(await refusal(service.remove('bob', id))).toMatchObject({ status: 404 });
    expect(await refusal(service.delivery('ann', id, 'msg_nope'))).toMatchObject({ status: 404, code: 'delivery_not_found' });
    expect(await refusal(service.redeliver('ann', id, `msg_${'0'.repeat(32)}`))).toMatchObject({ status: 404, code: 'delivery_not_found' });
  });

  it("when an upload's notify_url is checked, then the refusal names notify_url", async () => {
    const service = new WebhooksService(memoryRegistry().registry, policy, answers({}), settings, logger);
    expect(await refusal(service.checkDestination('http://0x7f.1/', 'notify_url'))).toMatchObject({
      status: 400,
      code: 'destination_refused',
      message: expect.stringMatching(/^notify_url leads inside/),
    });
  });
});
