import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { InvalidTokenError } from '../domain/auth.service.js';
import { JwtTokens } from './jwt.tokens.js';

const secret = 's'.repeat(32);
const tokens = new JwtTokens(secret, 86_400);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('JwtTokens', () => {
  it('when a token is issued, then it is HS256 with the original four claims and a 24 h expiry', () => {
    const token = tokens.issue({ username: 'a@b.c', admin: true });
    const decoded = jwt.decode(token, { complete: true });
    expect(decoded?.header.alg).toBe('HS256');
    const claims = tokens.verify(token);
    expect(claims).toMatchObject({ username: 'a@b.c', admin: true });
    expect(claims.exp - claims.iat).toBe(86_400);
  });

  it('when the signature was made with another secret, then it is refused', () => {
    const forged = jwt.sign({ username: 'a@b.c', admin: true }, 'x'.repeat(32), { expiresIn: 60 });
    expect(() => tokens.verify(forged)).toThrow(InvalidTokenError);
  });

  it('when the token has expired, then it is refused', () => {
    const old = jwt.sign({ username: 'a@b.c', admin: true, iat: 1000, exp: 2000 }, secret);
    expect(() => tokens.verify(old)).toThrow(InvalidTokenError);
  });

  it('when the token has no exp, then it is refused (the original accepted it)', () => {
    const forever = jwt.sign({ username: 'a@b.c', admin: true }, secret);
    expect(() => tokens.verify(forever)).toThrow(/exp/);
  });

  it('when alg is none, then it is refused', () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ username: 'a@b.c', admin: true, iat: now, exp: now + 60 })}.`;
    expect(() => tokens.verify(unsigned)).toThrow(InvalidTokenError);
  });

  it('when another HMAC algorithm signed it, then it is refused', () => {
    const hs512 = jwt.sign({ username: 'a@b.c', admin: true }, secret, { algorithm: 'HS512', expiresIn: 60 });
    expect(() => tokens.verify(hs512)).toThrow(InvalidTokenError);
  });

  it('when the token is garbage, then it is refused', () => {
    expect(() => tokens.verify('not.a.token')).toThrow(InvalidTokenError);
  });
});
