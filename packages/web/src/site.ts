import { fileURLToPath } from 'node:url';

/** The built page (index.html, app.js, app.css): what the gateway serves at `/`. */
export const pageDirectory = fileURLToPath(new URL('../dist/www/', import.meta.url));
