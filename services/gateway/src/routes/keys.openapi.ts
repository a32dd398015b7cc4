import { apiKeyCreateSchema, apiKeyCreatedSchema, apiKeyListSchema } from '@mp3converter/shared/contracts';
import { z } from 'zod';
import type { ZodOpenApiObject, ZodOpenApiResponseObject } from 'zod-openapi';

/** What the document's own helpers make (openapi.ts passes them, so that every error reads alike). */
export interface DocumentParts {
  error: (codes: string, headers?: z.ZodObject) => ZodOpenApiResponseObject;
  noToken: ZodOpenApiResponseObject;
  unavailable: (codes: string) => ZodOpenApiResponseObject;
}

/** `/keys` and `/keys/{key_id}`: a login token only (an API key gets 403 `api_key_not_allowed`). */
export function keysPaths({ error, noToken, unavailable }: DocumentParts): ZodOpenApiObject['paths'] {
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  const noStore = z.object({ 'Cache-Control': z.literal('no-store') });
  const loginOnly = [{ bearer: [] }];
  const refusals = {
    '401': noToken,
    '403': error('`invalid_token`: auth refused the token; `api_key_not_allowed`: an API key cannot manage keys, log in'),
    '503': unavailable('`auth_unavailable`, `unavailable` (the key store is down)'),
  } satisfies Record<string, ZodOpenApiResponseObject>;
  return {
    '/keys': {
      post: {
        tags: ['API keys'],
        summary: 'Create an API key: the key is in this answer and nowhere else, ever',
        description: 'Stored only as the SHA-256 of its secret. At most MAX_API_KEYS_PER_USER keys per user, expired ones included until revoked.',
        security: loginOnly,
        requestBody: { required: true, content: json(apiKeyCreateSchema) },
        responses: {
          '201': { description: 'The key, with `key` shown this once.', headers: noStore, content: json(apiKeyCreatedSchema) },
          '400': error(
            '`invalid_key_request` (every problem named: name, scopes, unknown fields), `invalid_expiry` (under a minute or over ten years ahead), `entity_parse_failed`',
          ),
          ...refusals,
          '409': error('`key_limit_reached`: the user holds MAX_API_KEYS_PER_USER keys; revoke one first'),
          '413': error('`entity_too_large`: a body over 10 KiB'),
        },
      },
      get: {
        tags: ['API keys'],
        summary: "The user's API keys, newest first (never their secrets)",
        security: loginOnly,
        responses: {
          '200': { description: 'The keys and how many a user may hold.', headers: noStore, content: json(apiKeyListSchema) },
          ...refusals,
        },
      },
    },
    '/keys/{key_id}': {
      delete: {
        tags: ['API keys'],
        summary: 'Revoke an API key: every gateway refuses it from the next request on',
        description: 'An event stream it opened ends within EVENTS_KEY_RECHECK_MS.',
        security: loginOnly,
        requestParams: { path: z.object({ key_id: z.string().meta({ description: "The key's `id`.", examples: ['k3v9x0q2m7b1c8d4'] }) }) },
        responses: {
          '204': { description: 'Revoked.' },
          ...refusals,
          '404': error("`key_not_found`: no such key, someone else's, or revoked already (indistinguishable)"),
        },
      },
    },
  };
}
