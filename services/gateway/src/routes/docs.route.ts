import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { methodNotAllowed, notFound } from '@mp3converter/shared/errors';
import express, { type Router } from 'express';

/**
 * Nothing of the page comes from anywhere but this gateway (it works offline, and a CDN cannot change what it
 * runs). Swagger UI sets inline `style` attributes and draws its icons from `data:` images, hence those two;
 * no inline script and no eval.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files of `swagger-ui-dist` the page loads; nothing else of the package is served. */
const ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'] as const;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mp3converter API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="docs"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

// validatorUrl: null, or Swagger UI asks validator.swagger.io about the document; queryConfigEnabled stays
// off, so no `?url=` can point the page at another document.
const INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#docs',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  });
});
`;

/** `GET /openapi.json`, the API's OpenAPI document, and `GET /docs`, a reference page that reads it. */
export function docsRouter(): Router {
  // Built on the first request, not at start-up: the document's builder (zod-openapi) stays out of a gateway
  // nobody asks for it, and out of its resident memory.
  let document: Promise<string> | undefined;
  const documentJson = () => (document ??= import('./openapi.js').then(({ gatewayDocument }) => JSON.stringify(gatewayDocument())));
  const assetsDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const router = express.Router();

  router.get('/openapi.json', async (_req, res) => {
    const json = await documentJson();
    res.set({ 'Cache-Control': 'no-cache', 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" }).type('json').send(json);
  });
  router.all('/openapi.json', methodNotAllowed('GET'));

  router.get('/docs', (_req, res) => {
    res.set({ 'Cache-Control': 'no-cache', 'Content-Security-Policy': DOCS_CSP }).type('html').send(PAGE);
  });
  router.all('/docs', methodNotAllowed('GET'));

  router.get('/docs/:asset', (req, res, next) => {
    res.set('Content-Security-Policy', DOCS_CSP);
    if (req.params.asset === 'docs.js') return void res.set('Cache-Control', 'no-cache').type('text/javascript').send(INIT);
    const asset = ASSETS.find((name) => name === req.params.asset);
    if (!asset) return next(notFound(`no route for GET ${req.path}`, 'route_not_found'));
    res.sendFile(asset, { root: assetsDir, maxAge: '1h' }, (err) => err && next(err));
  });
  router.all('/docs/:asset', methodNotAllowed('GET'));
  return router;
}
