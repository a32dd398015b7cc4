import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';

/**
 * The page everything comes from: itself, its one script and stylesheet, the API. Nothing inline, nothing
 * from elsewhere, no framing: a filename that slipped past escaping could still run nothing.
 */
export const PAGE_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Whether `directory` holds a built page. */
export const pageBuilt = (directory: string): boolean => existsSync(join(directory, 'index.html'));

/**
 * GET / and the page's files, after every API route so none of them can be shadowed. The names are not
 * hashed, so browsers revalidate them each time (ETag) and a new release is never half old.
 */
export function pageRouter(directory: string): Router {
  const router = express.Router();
  router.use(
    express.static(directory, {
      index: 'index.html',
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res) => {
        res.set({
          'Cache-Control': 'no-cache',
          'Content-Security-Policy': PAGE_SECURITY_POLICY,
          'Referrer-Policy': 'no-referrer',
          'Cross-Origin-Opener-Policy': 'same-origin',
          'X-Frame-Options': 'DENY',
        });
      },
    }),
  );
  return router;
}
