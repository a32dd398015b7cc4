import { z } from 'zod';
import { API_KEY_SCOPES, apiKeyNameProblem } from './api-keys.js';

export const apiKeyScopeSchema = z.enum(API_KEY_SCOPES).meta({
  description: '`upload`: POST /upload and /uploads (tus); `read`: jobs, status, events, downloads and links; `delete`: DELETE /jobs/{video_fid}.',
});

/**
 * `POST /keys`: read by auth, passed through by the gateway. Unknown fields are refused, so that a misspelt
 * `scope` or `expires` is an error rather than a key with defaults.
 */
export const apiKeyCreateSchema = z
  .strictObject({
    name: z
      .string()
      .trim()
      .superRefine((name, ctx) => {
        const problem = apiKeyNameProblem(name);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({ description: 'What you call the key; 1–100 characters, no control characters.', examples: ['backup script'] }),
    scopes: z
      .array(apiKeyScopeSchema)
      .min(1)
      .max(API_KEY_SCOPES.length)
      .refine((scopes) => new Set(scopes).size === scopes.length, 'must not repeat a scope'),
    expires_at: z.iso
      .datetime({ offset: true })
      .nullable()
      .optional()
      .meta({ description: 'When the key stops working (ISO 8601 with an offset): at least a minute and at most ten years ahead. None: never.' }),
  })
  .meta({ id: 'ApiKeyCreate' });
export type ApiKeyCreate = z.infer<typeof apiKeyCreateSchema>;

/** A key as its owner sees it in a list: never its secret. */
export const apiKeyViewSchema = z
  .object({
    id: z.string().meta({ description: 'Public: the part after `mp3c_` of the key.', examples: ['k3v9x0q2m7b1c8d4'] }),
    name: z.string(),
    scopes: z.array(apiKeyScopeSchema),
    created_at: z.iso.datetime(),
    expires_at: z.iso.datetime().nullable(),
    last_used_at: z.iso.datetime().nullable().meta({ description: 'Recorded at most once a minute per key: may lag by that much.' }),
    expired: z.boolean(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyView = z.infer<typeof apiKeyViewSchema>;

/** The answer to `POST /keys`: the only time the key itself is shown. */
export const apiKeyCreatedSchema = apiKeyViewSchema
  .extend({ key: z.string().meta({ description: 'The key, `mp3c_<id>_<secret>`: shown this once, stored only as a hash.' }) })
  .meta({ id: 'ApiKeyCreated' });
export type ApiKeyCreated = z.infer<typeof apiKeyCreatedSchema>;

export const apiKeyListSchema = z
  .object({
    keys: z.array(apiKeyViewSchema).meta({ description: 'Newest first, expired ones included until revoked.' }),
    limit: z.number().int().meta({ description: 'How many keys a user may hold (MAX_API_KEYS_PER_USER).' }),
  })
  .meta({ id: 'ApiKeyList' });
export type ApiKeyList = z.infer<typeof apiKeyListSchema>;
