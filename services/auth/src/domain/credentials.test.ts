import { describe, expect, it } from 'vitest';
import { normalizeEmail, parseBasicAuthorization, parseBearerAuthorization, parseJsonCredentials } from './credentials.js';

const basic = (raw: string) => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;

describe('parseBasicAuthorization', () => {
  it('when the header is well formed, then it yields email and password', () => {
    expect(parseBasicAuthorization(basic('georgio@email.com:Admin123'))).toEqual({ email: 'georgio@email.com', password: 'Admin123' });
  });

  it('when the password holds colons, then only the first colon splits', () => {
    expect(parseBasicAuthorization(basic('a@b.c:x:y:z'))?.password).toBe('x:y:z');
  });

  it('when the scheme word has another case, then it is still read', () => {
    expect(parseBasicAuthorization(basic('a@b.c:pw').replace('Basic', 'basic'))).toEqual({ email: 'a@b.c', password: 'pw' });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['another scheme', 'Bearer abc'],
    ['broken base64', 'Basic !!!not-base64'],
    ['no colon', basic('nocolon')],
    ['impossible base64 length', 'Basic a'],
  ])('when the header is %s, then there are no credentials', (_label, header) => {
    expect(parseBasicAuthorization(header)).toBeUndefined();
  });

  it('when the credentials are not ASCII, then they are decoded as UTF-8', () => {
    expect(parseBasicAuthorization(basic('jürgen@exämple.de:pässwörd'))).toEqual({ email: 'jürgen@exämple.de', password: 'pässwörd' });
  });
});

describe('parseBearerAuthorization', () => {
  it('when the header is Bearer, then the token comes back', () => {
    expect(parseBearerAuthorization('Bearer a.b.c')).toBe('a.b.c');
    expect(parseBearerAuthorization('bearer a.b.c')).toBe('a.b.c');
  });

  it.each([undefined, '', 'a.b.c', 'Basic a.b.c', 'Bearer', 'Bearer a b'])('when the header is %j, then there is no token', (header) => {
    expect(parseBearerAuthorization(header)).toBeUndefined();
  });
});

describe('parseJsonCredentials', () => {
  it('when both fields are strings, then they are credentials', () => {
    expect(parseJsonCredentials({ email: 'a@b.c', password: 'p' })).toEqual({ email: 'a@b.c', password: 'p' });
  });

  it.each([undefined, null, 'x', {}, { email: 'a@b.c' }, { email: 1, password: 'p' }])('when the body is %j, then there are none', (body) => {
    expect(parseJsonCredentials(body)).toBeUndefined();
  });
});

it('normalizeEmail trims and lower-cases', () => {
  expect(normalizeEmail('  GEORGIO@Email.com ')).toBe('georgio@email.com');
});
