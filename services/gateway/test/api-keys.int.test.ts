import { randomBytes } from 'node:crypto';
import { API_KEY_SCOPES, type ApiKeyScope } from '@mp3converter/shared/contracts/api-keys';
import { ObjectId } from '@mp3converter/shared/storage';
import { jsonOf, makeVideo, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuth, testConfig as authTestConfig } from '../../auth/test/helpers.js';
import { gatewayDocument } from '../src/routes/openapi.js';
import { type Stack, rawHttp, readVideo, signIn, startStack, uploadFile } from './harness.js';

/**
 * API keys through the gateway, against a real auth and two gateways on it (as replicas run): every
 * operation of the OpenAPI document enforces the scope it declares, and a revoked key is refused by both.
 */
let a: Stack;
let b: Stack;
let video: Buffer;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  a = await startStack({ EVENTS_KEY_RECHECK_MS: '200' });
  b = await startStack({ VIDEO_QUEUE: a.videoQueue, EVENTS_KEY_RECHECK_MS: '200' }, { auth: a.auth, authConfig: a.authConfig });
  const made = await makeVideo({ seconds: 1 });
  cleanups.push(made.cleanup);
  video = await readVideo(made.path);
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  for (const c of cleanups) await c();
});

async function createKey(
  stack: Stack,
  authorization: string,
  scopes: readonly ApiKeyScope[],
  name = 'test',
): Promise<{ id: string; key: string; bearer: string }> {
  const res = await fetch(`${stack.url}/keys`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes }),
  });
  expect(res.status).toBe(201);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const { id, key } = (await res.json()) as { id: string; key: string };
  return { id, key, bearer: `Bearer ${key}` };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

type Access = { kind: 'public' } | { kind: 'login' } | { kind: 'scoped'; scope: ApiKeyScope };

/** What an operation's `security` lets in: nobody in particular, a login token only, or a key with one scope. */
function accessOf(security: Record<string, string[]>[] | undefined): Access | 'undeclared' {
  if (!security) return 'undeclared';
  if (!security.some((s) => 'bearer' in s)) return { kind: 'public' };
  const keys = security.filter((s) => 'apiKey' in s);
  if (keys.length === 0) return { kind: 'login' };
  const [scope, ...more] = keys.flatMap((s) => s.apiKey ?? []);
  if (keys.length !== 1 || more.length > 0 || !API_KEY_SCOPES.includes(scope as ApiKeyScope)) return 'undeclared';
  return { kind: 'scoped', scope: scope as ApiKeyScope };
}

/** Every operation of the document, with what it lets in. */
const operations = Object.entries(gatewayDocument().paths ?? {}).flatMap(([path, item]) =>
  METHODS.filter((m) => item?.[m]).map((method) => ({ path, method, access: accessOf(item![method]!.security as Record<string, string[]>[] | undefined) })),
);
const guarded = operations.filter((o) => o.access !== 'undeclared' && o.access.kind !== 'public');

/** A request for the operation that would pass every check but the credential's: ids of the right shape, tus headers. */
function requestFor(stack: Stack, op: { path: string; method: string }, authorization: string): Promise<Response> {
  const fid = new ObjectId().toHexString();
  const path = op.path.replace('{video_fid}', fid).replace('{upload_id}', fid).replace('{key_id}', 'a'.repeat(16));
  const query = path === '/status' || path === '/download' ? `?fid=${fid}` : '';
  const headers: Record<string, string> = { authorization, ...(path.startsWith('/uploads') ? { 'tus-resumable': '1.0.0' } : {}) };
  return fetch(`${stack.url}${path}${query}`, { method: op.method.toUpperCase(), headers, signal: AbortSignal.timeout(10_000) });
}

describe('scopes, over every operation of the OpenAPI document', () => {
  it('when the document is read, then every operation declares who may call it: nobody in particular, a login only, or a key with one scope', () => {
    expect(operations.filter((o) => o.access === 'undeclared').map((o) => `${o.method} ${o.path}`)).toEqual([]);
    // Keys are managed with a login only; everything else of the API takes a key with the right scope.
    const loginOnly = guarded.filter((o) => o.access !== 'undeclared' && o.access.kind === 'login').map((o) => `${o.method} ${o.path}`);
    expect(loginOnly.sort()).toEqual(['delete /keys/{key_id}', 'get /keys', 'post /keys']);
  });

  it.each(guarded.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))(
    'when %s is called with a key that lacks its scope, then 403 with a clear JSON error; with the scope, the key is let through',
    async (_name, op) => {
      const user = await signIn(a);
      const access = op.access as Exclude<Access, { kind: 'public' }>;
      const needed = access.kind === 'scoped' ? access.scope : undefined;
      const without = API_KEY_SCOPES.filter((s) => s !== needed);
      const lacking = await createKey(a, user.authorization, without);
      const refused = await requestFor(a, op, lacking.bearer);
      expect(refused.status).toBe(403);
      if (op.method !== 'head') {
        expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
        const { error } = await jsonOf(refused);
        if (needed) {
          expect(error).toEqual({ code: 'insufficient_scope', message: `this API key lacks the "${needed}" scope` });
          expect(refused.headers.get('www-authenticate')).toBe(`Bearer error="insufficient_scope", scope="${needed}"`);
        } else {
          expect(error.code).toBe('api_key_not_allowed');
        }
      }
      // The credential that may: a key with just this scope, or, for a login-only route, the login token.
      const allowed = needed ? (await createKey(a, user.authorization, [needed])).bearer : user.authorization;
      const through = await requestFor(a, op, allowed);
      // An answer past the credential check may be a stream (the events): only a refusal is read.
      const body = op.method === 'head' || through.status < 400 ? '' : await through.text();
      await through.body?.cancel().catch(() => undefined);
      expect(through.status, body).not.toBe(401);
      if (through.status === 403) expect(body).not.toMatch(/insufficient_scope|api_key_not_allowed|invalid_api_key|invalid_token/);
    },
  );
});

describe('keys through the gateway', () => {
  it('when a key is revoked through one gateway, then both gateways refuse it from the next request on', async () => {
    const user = await signIn(a);
    const key = await createKey(a, user.authorization, ['read']);
    for (const stack of [a, b]) expect((await fetch(`${stack.url}/jobs`, { headers: { authorization: key.bearer } })).status).toBe(200);
    const revoked = await fetch(`${a.url}/keys/${key.id}`, { method: 'DELETE', headers: { authorization: user.authorization } });
    expect(revoked.status).toBe(204);
    // No wait at all: nothing is cached, each request is checked by auth.
    const [onB, onA] = await Promise.all([b, a].map((stack) => fetch(`${stack.url}/jobs`, { headers: { authorization: key.bearer } })));
    expect([onB!.status, onA!.status]).toEqual([403, 403]);
    expect((await jsonOf(onB!)).error.code).toBe('invalid_api_key');
    expect((await jsonOf(await fetch(`${b.url}/keys`, { headers: { authorization: user.authorization } }))).keys).toEqual([]);
  });

  it('when a key that opened an event stream is revoked on the other gateway, then the stream ends', async () => {
    const user = await signIn(a);
    const key = await createKey(a, user.authorization, ['read']);
    const res = await fetch(`${b.url}/events`, { headers: { authorization: key.bearer, accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    let ended = false;
    void (async () => {
      for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>);
      ended = true;
    })().catch(() => undefined);
    expect((await fetch(`${a.url}/keys/${key.id}`, { method: 'DELETE', headers: { authorization: user.authorization } })).status).toBe(204);
    await waitFor(() => ended, { timeoutMs: 5_000, what: 'the stream to end' });
  });

  it('when a script uploads with an upload key, then it follows the job only with a read key', async () => {
    const user = await signIn(a);
    const uploader = await createKey(a, user.authorization, ['upload']);
    const reader = await createKey(a, user.authorization, ['read']);
    const res = await uploadFile(a, uploader.bearer, [{ name: 'clip.mp4', data: video }]);
    expect(res.status).toBe(202);
    const { video_fid } = await jsonOf(res);
    expect((await fetch(`${b.url}/status?fid=${video_fid}`, { headers: { authorization: uploader.bearer } })).status).toBe(403);
    const seen = await fetch(`${b.url}/status?fid=${video_fid}`, { headers: { authorization: reader.bearer } });
    expect(seen.status).toBe(200);
    expect(await jsonOf(seen)).toMatchObject({ video_fid, filename: 'clip.mp4' });
    // Another user's read key sees nothing of it.
    const stranger = await signIn(a);
    const theirs = await createKey(a, stranger.authorization, ['read', 'delete']);
    expect((await fetch(`${a.url}/jobs/${video_fid}`, { headers: { authorization: theirs.bearer } })).status).toBe(404);
    expect((await fetch(`${a.url}/jobs/${video_fid}`, { method: 'DELETE', headers: { authorization: theirs.bearer } })).status).toBe(404);
  });

  it.each([
    ['a malformed key', `Bearer mp3c_${'x'.repeat(10)}`, 403, 'invalid_api_key'],
    ['an unknown key', `Bearer mp3c_${'0'.repeat(16)}_${'A'.repeat(40)}`, 403, 'invalid_api_key'],
    ['a key with a newline', `Bearer mp3c_${'0'.repeat(16)}_${'A'.repeat(40)}%0a`, 401, 'malformed_authorization'],
  ])('when %s comes, then a clear JSON refusal', async (_what, authorization, status, code) => {
    const res = await fetch(`${a.url}/jobs`, { headers: { authorization } });
    expect(res.status).toBe(status);
    expect((await jsonOf(res)).error.code).toBe(code);
  });

  it("when someone revokes another user's key or a path-shaped id, then 404 alike and nothing changes", async () => {
    const ann = await signIn(a);
    const bob = await signIn(a);
    const key = await createKey(a, ann.authorization, ['read']);
    for (const id of [key.id, '..%2F..%2Fvalidate', 'AAAAAAAAAAAAAAAA', randomBytes(300).toString('hex')]) {
      const res = await fetch(`${a.url}/keys/${id}`, { method: 'DELETE', headers: { authorization: bob.authorization } });
      expect(res.status, id).toBe(404);
      expect((await jsonOf(res)).error.code, id).toBe('key_not_found');
    }
    // `..` as sent by a client that does not tidy the path (fetch would).
    const raw = await rawHttp(
      a.gateway.http.port,
      Buffer.from(`DELETE /keys/.. HTTP/1.1\r\nhost: x\r\nauthorization: ${bob.authorization}\r\nconnection: close\r\n\r\n`),
    );
    expect(raw?.status).toBe(404);
    expect(raw?.json.error.code, raw?.body).toBe('key_not_found');
    expect((await fetch(`${a.url}/jobs`, { headers: { authorization: key.bearer } })).status).toBe(200);
  });

  it('when a create request is huge, then the gateway refuses it with 413 before auth sees it', async () => {
    const user = await signIn(a);
    const res = await fetch(`${a.url}/keys`, {
      method: 'POST',
      headers: { authorization: user.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(50_000), scopes: ['read'] }),
    });
    expect(res.status).toBe(413);
    expect((await jsonOf(res)).error.code).toBe('entity_too_large');
  });

  it('when a key goes past its rate, then the gateway answers 429 with Retry-After, and the login token is not limited', async () => {
    const authConfig = authTestConfig({ API_KEY_RATE_LIMIT: '2', API_KEY_RATE_WINDOW_SECONDS: '60' });
    const auth = await startAuth(authConfig);
    const stack = await startStack({}, { auth, authConfig });
    try {
      const user = await signIn(stack);
      const key = await createKey(stack, user.authorization, ['read']);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${stack.url}/jobs`, { headers: { authorization: key.bearer } })).status);
      expect(statuses).toEqual([200, 200, 429]);
      const refused = await fetch(`${stack.url}/jobs`, { headers: { authorization: key.bearer } });
      expect(refused.headers.get('retry-after')).toBe('30');
      expect((await jsonOf(refused)).error.code).toBe('api_key_rate_limited');
      expect((await fetch(`${stack.url}/jobs`, { headers: { authorization: user.authorization } })).status).toBe(200);
    } finally {
      await stack.stop();
      await auth.stop();
    }
  });
});
