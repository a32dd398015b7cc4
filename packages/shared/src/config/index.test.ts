import { describe, expect, it } from 'vitest';
import { ConfigError, env, loadConfig, z } from './index.js';

const schema = z.object({ PORT: env.port(8080), DEBUG: env.bool(false), DELAYS: env.intList('1,2'), NAME: z.string() });

describe('loadConfig', () => {
  it('when keys are absent or empty, then defaults apply', () => {
    expect(loadConfig(schema, { NAME: 'x', PORT: '' })).toEqual({ PORT: 8080, DEBUG: false, DELAYS: [1, 2], NAME: 'x' });
  });

  it('when values are strings, then they are coerced', () => {
    expect(loadConfig(schema, { NAME: 'x', PORT: '1', DEBUG: 'true', DELAYS: '5, 10' })).toMatchObject({ PORT: 1, DEBUG: true, DELAYS: [5, 10] });
  });

  it('when several keys are wrong, then one error lists them all', () => {
    const err = (() => {
      try {
        loadConfig(schema, { PORT: 'x', DEBUG: 'maybe', DELAYS: '1,-2' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual(['DEBUG', 'DELAYS', 'NAME', 'PORT']);
    expect(err.message).toContain('invalid configuration');
  });
});
