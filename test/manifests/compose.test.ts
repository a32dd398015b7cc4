import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@mp3converter/shared/config';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { authConfigSchema } from '../../services/auth/src/config.js';
import { SERVICE_CONFIGS as services } from './config-schemas.js';
import { root } from './render.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** docker-compose.yml as `docker compose` reads it with no .env and nothing set: every `${X:-default}` is its default. */
function composeWithDefaults(): any {
  const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8').replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? '');
  return parse(text, { merge: true });
}

const compose = composeWithDefaults();
/** What each image sets before compose's `environment` (the Dockerfiles' runtime stage). */
const IMAGE_ENV = { NODE_ENV: 'production', HOST: '0.0.0.0' };
const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[name].environment ?? {}).map(([k, v]) => [k, String(v)]));

describe('docker-compose.yml', () => {
  it('when nothing is set, then every published port is on 127.0.0.1 only', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]: [string, any]) => (s.ports ?? []).map((p: unknown) => [name, String(p)]));
    expect(published.length).toBeGreaterThan(0);
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:/);
  });

  it('when MongoDB is read, then it asks for a login, and each service logs in as its own user', () => {
    expect(compose.services.mongo.environment.MONGO_INITDB_ROOT_USERNAME).toBeTruthy();
    expect(compose.services.mongo.environment.MONGO_INITDB_ROOT_PASSWORD).toBeTruthy();
    for (const name of ['gateway', 'converter', 'notification', 'webhooks']) {
      const uri = new URL(envOf(name).MONGODB_URI!);
      expect(uri.username, name).toBe(name);
      expect(uri.password, name).not.toBe('');
    }
  });

  it.each(Object.keys(services))(
    'when %s runs as the file has it, then its config loads; with the same secrets in production mode, it refuses to start',
    (name) => {
      const schema = services[name as keyof typeof services];
      const env = { ...IMAGE_ENV, ...envOf(name) };
      expect(() => loadConfig(schema as any, env)).not.toThrow();
      if (name === 'converter' || name === 'webhooks') return; // they sign nothing with a deployment secret
      expect(() => loadConfig(schema as any, { ...env, NODE_ENV: 'production' })).toThrow(
        /(JWT_SECRET|DOWNLOAD_LINK_SECRET): is a published development default/,
      );
    },
  );

  it("when auth runs in production mode with its own JWT_SECRET but the file's seed password, then it refuses to start", () => {
    const env = { ...IMAGE_ENV, ...envOf('auth'), NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(48) };
    expect(() => loadConfig(authConfigSchema, env)).toThrow(/SEED_USER_PASSWORD: is a published development default/);
  });
});
