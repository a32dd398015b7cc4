import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { jsonOf, makeVideo, uniqueName, waitFor } from '@mp3converter/shared/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { JSDOM, ResourceLoader, type FetchOptions, VirtualConsole } from 'jsdom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, startWorker } from '../../converter/test/harness.js';
import { addUser, basic } from '../../auth/test/helpers.js';
import { gatewayDocument } from '../src/routes/openapi.js';
import { openEvents } from './sse.js';
import { type Stack, readVideo, signIn, startStack, uploadFile } from './harness.js';

/**
 * Real answers of a real gateway (auth, MongoDB, RabbitMQ and a converter behind it) checked against the
 * OpenAPI document it serves: each status must be one the document gives the operation, and each body must
 * match the document's schema for that status and media type.
 */
let stack: Stack;
let queues: Queues;
let converter: Worker;
let video: Buffer;
let cleanup: () => Promise<void>;
let served: any;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats.default(ajv);

beforeAll(async () => {
  stack = await startStack();
  queues = { video: stack.videoQueue, mp3: uniqueName('mp3'), failed: uniqueName('failed') };
  converter = await startWorker(queues);
  const made = await makeVideo({ seconds: 2 });
  cleanup = made.cleanup;
  video = await readVideo(made.path);
  served = await jsonOf(await fetch(`${stack.url}/openapi.json`));
  ajv.addSchema(served, 'openapi');
});
afterAll(async () => {
  await converter.worker.stop(1_000);
  await stack.stop();
  await cleanupQueues(queues);
  await cleanup();
});

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/**
 * Checks `res` against the document's `method path` (a path as the document names it) and returns the body:
 * the status must be documented, and a body with a documented schema must match it.
 */
async function conforms(res: Response, method: string, path: string): Promise<any> {
  const responses = served.paths[path]?.[method]?.responses;
  expect(responses, `${method} ${path} is documented`).toBeDefined();
  const documented = responses[String(res.status)];
  expect(documented, `${method.toUpperCase()} ${path} → ${res.status} is documented`).toBeDefined();
  const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim();
  const text = await res.text();
  if (!mediaType || text === '') {
    expect(documented.content, `${method} ${path} ${res.status} has a body`).toBeUndefined();
    return undefined;
  }
  expect(Object.keys(documented.content ?? {}), `${method} ${path} ${res.status}`).toContain(mediaType);
  const schema = documented.content[mediaType].schema;
  if (!schema) return text;
  const at = pointer('paths', path, method, 'responses', String(res.status), 'content', mediaType, 'schema');
  const check = (ref: string, body: unknown) => {
    const validate = ajv.getSchema(`openapi#/${ref}`)!;
    if (!validate(body)) expect.fail(`${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`);
  };
  const body = mediaType.endsWith('json') ? JSON.parse(text) : text;
  check(at, body);
  // JSON inside a text body (the tus server's answers): its own schema.
  if (schema.contentMediaType === 'application/json' && schema.contentSchema) {
    const inner = JSON.parse(text);
    check(`${at}/contentSchema`, inner);
    return inner;
  }
  return body;
}

describe('the API against its document', () => {
  it('when the document is fetched, then it is the one the gateway builds', async () => {
    expect(served).toEqual(JSON.parse(JSON.stringify(gatewayDocument())));
  });

  it('when a user logs in, uploads, follows the job and downloads the MP3, then every answer matches the document', async () => {
    const { email, password } = await addUser(stack.authConfig);
    const login = await fetch(`${stack.url}/login`, { method: 'POST', headers: { authorization: basic(email, password) } });
    expect(login.status).toBe(200);
    const token = await conforms(login, 'post', '/login');
    const byJson = await fetch(`${stack.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(byJson.status).toBe(200);
    await conforms(byJson, 'post', '/login');
    const authorization = `Bearer ${token}`;

    const events = await openEvents(stack.url, authorization);
    try {
      const upload = await uploadFile(stack, authorization, [{ name: 'talk.mp4', data: video }], '?bitrate=96&channels=1');
      expect(upload.status).toBe(202);
      const accepted = await conforms(upload, 'post', '/upload');
      const fid = accepted.video_fid as string;

      const queued = await fetch(`${stack.url}/jobs/${fid}/link`, { method: 'POST', headers: { authorization } });
      if (queued.status === 409) expect((await conforms(queued, 'post', '/jobs/{video_fid}/link')).error.code).toBe('job_not_done');

      await waitFor(async () => (await mongoJobStore(stack.mongo).get(fid))?.state === 'done', { timeoutMs: 30_000, what: 'the job to be done' });
      const status = await fetch(`${stack.url}/status?fid=${fid}`, { headers: { authorization } });
      expect(status.status).toBe(200);
      const job = await conforms(status, 'get', '/status');
      expect(job).toMatchObject({ video_fid: fid, state: 'done' });
      expect((await conforms(await fetch(`${stack.url}/jobs/${fid}`, { headers: { authorization } }), 'get', '/jobs/{video_fid}')).state).toBe('done');
      const list = await conforms(await fetch(`${stack.url}/jobs?limit=5`, { headers: { authorization } }), 'get', '/jobs');
      expect(list.jobs.map((j: { video_fid: string }) => j.video_fid)).toContain(fid);

      const done = await events.next((e) => e.event === 'job' && e.data.video_fid === fid && e.data.state === 'done', 'done');
      const validateEvent = ajv.getSchema('openapi#/components/schemas/JobEvent')!;
      for (const event of events.events.filter((e) => e.event === 'job')) {
        if (!validateEvent(event.data)) expect.fail(`event ${JSON.stringify(event.data)}: ${ajv.errorsText(validateEvent.errors)}`);
      }
      expect(done.data.mp3_fid).toBe(job.mp3_fid);

      const download = await fetch(`${stack.url}/download?fid=${job.mp3_fid}`, { headers: { authorization } });
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('audio/mpeg');
      await conforms(download, 'get', '/download');
      const ranged = await fetch(`${stack.url}/download?fid=${job.mp3_fid}`, { headers: { authorization, range: 'bytes=0-99' } });
      expect(ranged.status).toBe(206);
      await conforms(ranged, 'get', '/download');
      const past = await fetch(`${stack.url}/download?fid=${job.mp3_fid}`, { headers: { authorization, range: 'bytes=99999999-' } });
      expect(past.status).toBe(416);
      expect((await conforms(past, 'get', '/download')).error.code).toBe('range_not_satisfiable');

      const zip = await fetch(`${stack.url}/download.zip?fid=${fid}`, { headers: { authorization } });
      expect(zip.status).toBe(200);
      await conforms(zip, 'get', '/download.zip');
      const zipPart = await fetch(`${stack.url}/download.zip?fid=${fid}`, {
        headers: { authorization, range: 'bytes=10-', 'if-range': zip.headers.get('etag')! },
      });
      expect(zipPart.status).toBe(206);
      await conforms(zipPart, 'get', '/download.zip');
      const zipLink = await fetch(`${stack.url}/download.zip/link?fid=${fid}`, { method: 'POST', headers: { authorization } });
      expect(zipLink.status).toBe(200);
      const zipUrl = new URL((await conforms(zipLink, 'post', '/download.zip/link')).url);
      const zipByLink = await fetch(`${stack.url}${zipUrl.pathname}${zipUrl.search}`);
      expect(zipByLink.status).toBe(200);
      await conforms(zipByLink, 'get', '/download.zip');

      const link = await fetch(`${stack.url}/jobs/${fid}/link`, { method: 'POST', headers: { authorization } });
      expect(link.status).toBe(200);
      const { url } = await conforms(link, 'post', '/jobs/{video_fid}/link');
      const signed = new URL(url);
      const byLink = await fetch(`${stack.url}${signed.pathname}${signed.search}`);
      expect(byLink.status).toBe(200);
      await conforms(byLink, 'get', '/download');
      // Another first character: the signature is base64url, so it starts with an x one time in 64.
      const sig = signed.searchParams.get('sig')!;
      signed.searchParams.set('sig', `${sig.startsWith('x') ? 'y' : 'x'}${sig.slice(1)}`);
      const altered = await fetch(`${stack.url}${signed.pathname}${signed.search}`);
      expect(altered.status).toBe(403);
      expect((await conforms(altered, 'get', '/download')).error.code).toBe('invalid_link');

      const removed = await fetch(`${stack.url}/jobs/${fid}`, { method: 'DELETE', headers: { authorization } });
      expect(removed.status).toBe(204);
      await conforms(removed, 'delete', '/jobs/{video_fid}');
    } finally {
      events.close();
    }
  });

  it('when requests are refused, then each error answer is documented and is the shared error body', async () => {
    const user = await signIn(stack);
    const auth = { authorization: user.authorization };
    const missing = '65f0c0ffee00112233445566';
    const cases: [Promise<Response>, string, string, number, string][] = [
      [fetch(`${stack.url}/login`, { method: 'POST' }), 'post', '/login', 401, 'missing_credentials'],
      [fetch(`${stack.url}/login`, { method: 'POST', body: 'x'.repeat(20_000) }), 'post', '/login', 413, 'entity_too_large'],
      [fetch(`${stack.url}/login`, { method: 'POST', headers: { authorization: basic(user.email, 'wrong') } }), 'post', '/login', 401, 'invalid_credentials'],
      [uploadFile(stack, undefined, [{ name: 'a.mp4', data: video }]), 'post', '/upload', 401, 'missing_credentials'],
      [uploadFile(stack, 'Bearer not.a.jwt', [{ name: 'a.mp4', data: video }]), 'post', '/upload', 403, 'invalid_token'],
      [uploadFile(stack, user.authorization, [{ name: 'a.mp4', data: video }], '?bitrate=100'), 'post', '/upload', 400, 'invalid_options'],
      [
        uploadFile(stack, user.authorization, [{ name: 'a.txt', type: 'text/plain', data: Buffer.from('just words, no video') }]),
        'post',
        '/upload',
        415,
        'unsupported_media_type',
      ],
      [uploadFile(stack, user.authorization, []), 'post', '/upload', 400, 'exactly_one_file_required'],
      [fetch(`${stack.url}/status`, { headers: auth }), 'get', '/status', 400, 'fid_required'],
      [fetch(`${stack.url}/status?fid=nothex`, { headers: auth }), 'get', '/status', 400, 'invalid_fid'],
      [fetch(`${stack.url}/status?fid=${missing}`, { headers: auth }), 'get', '/status', 404, 'job_not_found'],
      [fetch(`${stack.url}/jobs?limit=0`, { headers: auth }), 'get', '/jobs', 400, 'invalid_query'],
      [fetch(`${stack.url}/jobs/${missing}`, { headers: auth }), 'get', '/jobs/{video_fid}', 404, 'job_not_found'],
      [fetch(`${stack.url}/jobs/${missing}`, { method: 'DELETE', headers: auth }), 'delete', '/jobs/{video_fid}', 404, 'job_not_found'],
      [fetch(`${stack.url}/jobs/${missing}/link`, { method: 'POST', headers: auth }), 'post', '/jobs/{video_fid}/link', 404, 'job_not_found'],
      [fetch(`${stack.url}/download?fid=${missing}`, { headers: auth }), 'get', '/download', 404, 'mp3_not_found'],
      [fetch(`${stack.url}/download?fid=${missing}`), 'get', '/download', 401, 'missing_credentials'],
      [fetch(`${stack.url}/download.zip`, { headers: auth }), 'get', '/download.zip', 400, 'fid_required'],
      [fetch(`${stack.url}/download.zip?fid=${missing}&fid=${missing}`, { headers: auth }), 'get', '/download.zip', 400, 'duplicate_fid'],
      [fetch(`${stack.url}/download.zip?fid=${missing}`, { headers: auth }), 'get', '/download.zip', 404, 'job_not_found'],
      [fetch(`${stack.url}/download.zip?fid=${missing}`), 'get', '/download.zip', 401, 'missing_credentials'],
      [fetch(`${stack.url}/download.zip?fid=${missing}&expires=1&sig=x`), 'get', '/download.zip', 403, 'invalid_link'],
      [fetch(`${stack.url}/download.zip/link?fid=x`, { method: 'POST', headers: auth }), 'post', '/download.zip/link', 400, 'invalid_fid'],
      [fetch(`${stack.url}/download.zip/link?fid=${missing}`, { method: 'POST', headers: auth }), 'post', '/download.zip/link', 404, 'job_not_found'],
      [fetch(`${stack.url}/events`), 'get', '/events', 401, 'missing_credentials'],
      [
        fetch(`${stack.url}/uploads/${missing}`, {
          method: 'PATCH',
          headers: { ...auth, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
          body: 'x',
        }),
        'patch',
        '/uploads/{upload_id}',
        404,
        'upload_not_found',
      ],
      [
        fetch(`${stack.url}/uploads/${missing}`, { method: 'DELETE', headers: { ...auth, 'tus-resumable': '1.0.0' } }),
        'delete',
        '/uploads/{upload_id}',
        404,
        'upload_not_found',
      ],
    ];
    for (const [request, method, path, status, code] of cases) {
      const res = await request;
      expect(res.status, `${method} ${path} ${code}`).toBe(status);
      expect((await conforms(res, method, path)).error.code).toBe(code);
    }
  });

  it('when a user registers a webhook, reads it, its deliveries, rotates its secret and removes it, then every answer matches the document', async () => {
    const { authorization } = await signIn(stack);
    const auth = { authorization, 'content-type': 'application/json' };
    // A literal address outside: nothing is resolved, and no job of this user ends, so nothing is sent.
    const created = await conforms(
      await fetch(`${stack.url}/webhooks`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ url: 'https://93.184.216.34/hook', events: ['job.done'] }),
      }),
      'post',
      '/webhooks',
    );
    const id = created.id as string;
    expect(created.secret).toMatch(/^whsec_/);
    expect((await conforms(await fetch(`${stack.url}/webhooks`, { headers: auth }), 'get', '/webhooks')).webhooks).toHaveLength(1);
    await conforms(await fetch(`${stack.url}/webhooks/${id}`, { headers: auth }), 'get', '/webhooks/{id}');
    await conforms(await fetch(`${stack.url}/webhooks/${id}/rotate-secret`, { method: 'POST', headers: auth }), 'post', '/webhooks/{id}/rotate-secret');
    expect((await conforms(await fetch(`${stack.url}/webhooks/${id}/deliveries`, { headers: auth }), 'get', '/webhooks/{id}/deliveries')).deliveries).toEqual(
      [],
    );
    const noDelivery = `msg_${'0'.repeat(32)}`;
    const refusals: [Promise<Response>, string, string, number, string][] = [
      [
        fetch(`${stack.url}/webhooks/${id}/deliveries/${noDelivery}`, { headers: auth }),
        'get',
        '/webhooks/{id}/deliveries/{delivery_id}',
        404,
        'delivery_not_found',
      ],
      [
        fetch(`${stack.url}/webhooks/${id}/deliveries/${noDelivery}/redeliver`, { method: 'POST', headers: auth }),
        'post',
        '/webhooks/{id}/deliveries/{delivery_id}/redeliver',
        404,
        'delivery_not_found',
      ],
      [fetch(`${stack.url}/webhooks/${id}/deliveries?limit=0`, { headers: auth }), 'get', '/webhooks/{id}/deliveries', 400, 'invalid_query'],
      [
        fetch(`${stack.url}/webhooks`, { method: 'POST', headers: auth, body: JSON.stringify({ url: 'http://169.254.169.254/' }) }),
        'post',
        '/webhooks',
        400,
        'destination_refused',
      ],
      [fetch(`${stack.url}/webhooks`, { method: 'POST', headers: auth, body: '{' }), 'post', '/webhooks', 400, 'entity_parse_failed'],
      [fetch(`${stack.url}/webhooks`, { headers: {} }), 'get', '/webhooks', 401, 'missing_credentials'],
      [fetch(`${stack.url}/webhooks/ep_${'0'.repeat(24)}`, { headers: auth }), 'get', '/webhooks/{id}', 404, 'webhook_not_found'],
    ];
    for (const [request, method, path, status, code] of refusals) {
      const res = await request;
      expect(res.status, `${method} ${path} ${code}`).toBe(status);
      expect((await conforms(res, method, path)).error.code).toBe(code);
    }
    const removed = await fetch(`${stack.url}/webhooks/${id}`, { method: 'DELETE', headers: auth });
    expect(removed.status).toBe(204);
    await conforms(removed, 'delete', '/webhooks/{id}');
  });

  it('when a resumable upload is created, looked at and abandoned, then the tus answers match the document', async () => {
    const { authorization } = await signIn(stack);
    const tus = { authorization, 'tus-resumable': '1.0.0' };
    await conforms(await fetch(`${stack.url}/uploads`, { method: 'OPTIONS' }), 'options', '/uploads');
    const created = await fetch(`${stack.url}/uploads`, {
      method: 'POST',
      headers: { ...tus, 'upload-length': String(video.length), 'upload-metadata': `filename ${Buffer.from('talk.mp4').toString('base64')}` },
    });
    expect(created.status).toBe(201);
    await conforms(created, 'post', '/uploads');
    const location = created.headers.get('location')!;
    const head = await fetch(`${stack.url}${location}`, { method: 'HEAD', headers: tus });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe('0');
    await conforms(head, 'head', '/uploads/{upload_id}');
    const patched = await fetch(`${stack.url}${location}`, {
      method: 'PATCH',
      headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(video.subarray(0, 1000)),
    });
    expect(patched.status).toBe(204);
    await conforms(patched, 'patch', '/uploads/{upload_id}');
    const conflict = await fetch(`${stack.url}${location}`, {
      method: 'PATCH',
      headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(video.subarray(0, 10)),
    });
    expect(conflict.status).toBe(409);
    await conforms(conflict, 'patch', '/uploads/{upload_id}');
    const gone = await fetch(`${stack.url}${location}`, { method: 'DELETE', headers: tus });
    expect(gone.status).toBe(204);
    await conforms(gone, 'delete', '/uploads/{upload_id}');
    const noVersion = await fetch(`${stack.url}${location}`, { method: 'HEAD', headers: { authorization } });
    expect(noVersion.status).toBe(412);
    await conforms(noVersion, 'head', '/uploads/{upload_id}');
  });

  it('when the reference page is opened, then it and everything it loads come from the gateway, under a policy that allows nothing else', async () => {
    const page = await fetch(`${stack.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*|unsafe-eval/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<\s]/);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      expect(ref, 'same origin').toMatch(/^\/[^/]/);
      const asset = await fetch(`${stack.url}${ref}`);
      expect(asset.status, ref).toBe(200);
      const text = await conforms(asset, 'get', '/docs/{asset}');
      if (ref.endsWith('docs.js')) {
        expect(text).toContain("url: '/openapi.json'");
        expect(text).toContain('validatorUrl: null');
      }
    }
    const other = await fetch(`${stack.url}/docs/index.html`);
    expect(other.status).toBe(404);
    expect((await conforms(other, 'get', '/docs/{asset}')).error.code).toBe('route_not_found');
  });

  it('when the reference page is rendered, then it shows every operation of the document with nothing from elsewhere and no eval', async () => {
    const elsewhere: string[] = [];
    const evaluated: string[] = [];
    // What the page's policy makes a browser do: nothing loaded from another origin, no eval of strings.
    class SameOrigin extends ResourceLoader {
      override fetch(url: string, options: FetchOptions) {
        if (new URL(url).origin !== stack.url) {
          elsewhere.push(url);
          return null;
        }
        return super.fetch(url, options);
      }
    }
    const virtualConsole = new VirtualConsole();
    const dom = await JSDOM.fromURL(`${stack.url}/docs`, {
      runScripts: 'dangerously',
      resources: new SameOrigin(),
      pretendToBeVisual: true,
      virtualConsole,
      beforeParse(window) {
        // jsdom has no fetch of its own; the page's requests go through this one, held to the same origin.
        (window as unknown as { fetch: typeof fetch }).fetch = (input, init) => {
          const url = new URL(input instanceof Request ? input.url : String(input), window.location.href);
          if (url.origin !== stack.url) {
            elsewhere.push(url.href);
            return Promise.reject(new TypeError('refused by the page policy'));
          }
          return fetch(url, init);
        };
        const refuse = (what: string) => {
          evaluated.push(what);
          throw new EvalError(`${what} refused by the page policy`);
        };
        const w = window as unknown as { eval: unknown; Function: FunctionConstructor };
        w.eval = () => refuse('eval');
        // Function itself stays (its prototype is everywhere); making one from a string is refused.
        w.Function = new Proxy(w.Function, { apply: () => refuse('Function'), construct: () => refuse('new Function') });
      },
    });
    try {
      const operations = () => [...dom.window.document.querySelectorAll('.opblock')];
      const documentedOperations = Object.values(served.paths as Record<string, object>).flatMap((item) => Object.keys(item)).length;
      await waitFor(() => (operations().length >= documentedOperations ? true : undefined), { timeoutMs: 30_000, what: 'every operation on the page' });
      const shownPaths = new Set([...dom.window.document.querySelectorAll('.opblock-summary-path')].map((n) => n.getAttribute('data-path')));
      // The page shows the webhooks receivers get beside the paths, each under its event's name.
      expect([...shownPaths].sort()).toEqual([...Object.keys(served.paths), ...Object.keys(served.webhooks ?? {})].sort());
      expect(dom.window.document.querySelector('.info .title')?.textContent).toContain('mp3converter gateway');
      // Images are not fetched by jsdom: what the rendered page points at must be here (or data:) too.
      for (const node of dom.window.document.querySelectorAll('[src], link[href]')) {
        const url = new URL(node.getAttribute('src') ?? node.getAttribute('href')!, `${stack.url}/docs`);
        if (url.protocol !== 'data:' && url.origin !== stack.url) elsewhere.push(url.href);
      }
    } finally {
      dom.window.close();
    }
    expect(elsewhere).toEqual([]);
    expect(evaluated).toEqual([]);
  });
});
