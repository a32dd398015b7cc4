import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { methodNotAllowed } from '@mp3converter/shared/errors';
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

/** The page's files, by the path each is served at: nothing else of the folder is. */
export const PAGE_FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
  '/app.js.map': 'app.js.map',
  '/app.js.LEGAL.txt': 'app.js.LEGAL.txt',
};

/**
 * GET / and the page's files, after every API route so none of them can be shadowed. The names are not
 * hashed, so browsers revalidate them each time (ETag) and a new release is never half old.
 */
export function pageRouter(directory: string): Router {
  const router = express.Router();
  for (const [path, file] of Object.entries(PAGE_FILES)) {
    router.get(path, (_req, res, next) => {
      res.sendFile(
        file,
        {
          root: directory,
          dotfiles: 'deny',
          headers: {
            'Cache-Control': 'no-cache',
            'Content-Security-Policy': PAGE_SECURITY_POLICY,
            'Referrer-Policy': 'no-referrer',
            'Cross-Origin-Opener-Policy': 'same-origin',
            'X-Frame-Options': 'DENY',
          },
        },
        (err?: Error & { status?: number }) => {
          if (!err || res.headersSent) return;
          // Not built (a source map left out, say): the router's 404, not an error.
          next(err.status === 404 ? 'router' : err);
        },
      );
    });
    router.all(path, methodNotAllowed('GET'));
  }
  return router;
}
