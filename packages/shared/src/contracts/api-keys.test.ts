import { describe, expect, it } from 'vitest';
import { apiKeyCreateSchema } from './api-key-schemas.js';
import { apiKeyNameProblem, isApiKeyLike, parseApiKey } from './api-keys.js';

const id = 'abcdefghij012345';
const secret = 'A'.repeat(20) + 'z9'.repeat(10);

describe('parseApiKey', () => {
  it('when the key is well-formed, then its id and secret come apart', () => {
    expect(parseApiKey(`mp3c_${id}_${secret}`)).toEqual({ id, secret });
  });

  it.each([
    ['empty', ''],
    ['the prefix alone', 'mp3c_'],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJ1c2VybmFtZSI6ImEifQ.c2ln'],
    ['an upper-case id', `mp3c_${id.toUpperCase()}_${secret}`],
    ['a short secret', `mp3c_${id}_${secret.slice(1)}`],
    ['a long secret', `mp3c_${id}_${secret}A`],
    ['a secret with base64 signs', `mp3c_${id}_${secret.slice(2)}-_`],
    ['a trailing newline', `mp3c_${id}_${secret}\n`],
    ['another prefix', `MP3C_${id}_${secret}`],
    ['a path in the id', `mp3c_../../../etc/pass_${secret}`],
    ['a huge key', `mp3c_${id}_${'A'.repeat(100_000)}`],
  ])('when the key is %s, then it is not a key', (_what, key) => {
    expect(parseApiKey(key)).toBeUndefined();
  });

  it('when a credential starts with the prefix, then it is meant as a key, well-formed or not', () => {
    expect(isApiKeyLike('mp3c_nonsense')).toBe(true);
    expect(isApiKeyLike('eyJhbGciOiJIUzI1NiJ9.e30.c2ln')).toBe(false);
  });
});

describe('a key name', () => {
  it.each([
    ['an option', '--help'],
    ['a short option', '-rf'],
    ['markup', '<img src=x onerror=alert(1)>'],
    ['emoji', 'backup 🎵 script'],
    ['a hundred characters', 'x'.repeat(100)],
  ])('when it is %s, then it is taken as text', (_what, name) => {
    expect(apiKeyNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['over a hundred characters', 'x'.repeat(101)],
    ['a newline', 'a\nb'],
    ['a terminal escape', 'a\u001b[2Jb'],
    ['a NUL', 'a\u0000b'],
    ['a bidirectional override', 'evil\u202etxt.exe'],
    ['a line separator', 'a\u2028b'],
    ['half a surrogate pair', 'a\ud800b'],
  ])('when it holds %s, then it is refused', (_what, name) => {
    expect(apiKeyNameProblem(name)).toBeDefined();
  });
});

describe('apiKeyCreateSchema', () => {
  it('when the body is right, then the name is trimmed and the expiry optional', () => {
    expect(apiKeyCreateSchema.parse({ name: '  ci  ', scopes: ['upload', 'read'] })).toEqual({ name: 'ci', scopes: ['upload', 'read'] });
    expect(apiKeyCreateSchema.parse({ name: 'ci', scopes: ['read'], expires_at: '2031-01-01T00:00:00+02:00' }).expires_at).toBe('2031-01-01T00:00:00+02:00');
  });

  it.each([
    ['no scopes', { name: 'ci', scopes: [] }],
    ['an unknown scope', { name: 'ci', scopes: ['admin'] }],
    ['a repeated scope', { name: 'ci', scopes: ['read', 'read'] }],
    ['a misspelt field', { name: 'ci', scope: ['read'] }],
    ['a blank name', { name: '   ', scopes: ['read'] }],
    ['a name that is not text', { name: ['ci'], scopes: ['read'] }],
    ['an expiry without an offset', { name: 'ci', scopes: ['read'], expires_at: '2031-01-01T00:00:00' }],
    ['an expiry that is not a date', { name: 'ci', scopes: ['read'], expires_at: 'tomorrow' }],
  ])('when the body has %s, then it is refused', (_what, body) => {
    expect(apiKeyCreateSchema.safeParse(body).success).toBe(false);
  });
});
