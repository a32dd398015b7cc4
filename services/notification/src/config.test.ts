import { KNOWN_DEFAULT_SECRETS } from '@mp3converter/shared/config';
import { describe, expect, it } from 'vitest';
import { loadConfig as load } from './config.js';

const SECRET = { DOWNLOAD_LINK_SECRET: 'a-download-link-secret-of-32-bytes!!' };
const loadConfig = (env: Record<string, string>) => load({ ...SECRET, ...env });

describe('notification config', () => {
  it("when only the original's GMAIL_ADDRESS and GMAIL_PASSWORD are set, then Gmail on 587 with STARTTLS", () => {
    const c = loadConfig({ GMAIL_ADDRESS: 'me@gmail.com', GMAIL_PASSWORD: 'app-password' });
    expect(c.smtp).toEqual({ host: 'smtp.gmail.com', port: 587, secure: false, requireTls: true, user: 'me@gmail.com', password: 'app-password' });
    expect(c.mailFrom).toBe('me@gmail.com');
  });

  it('when SMTP_* are set, then they win', () => {
    const c = loadConfig({ SMTP_HOST: 'mail', SMTP_PORT: '1025', MAIL_FROM: 'x@y.z', GMAIL_ADDRESS: 'me@gmail.com' });
    expect(c.smtp).toMatchObject({ host: 'mail', port: 1025, secure: false });
    expect(c.mailFrom).toBe('x@y.z');
  });

  it('when the download-link secret is missing or short, then start-up is refused naming it', () => {
    expect(() => load({ SMTP_HOST: 'mail', MAIL_FROM: 'x@y.z' })).toThrow(/DOWNLOAD_LINK_SECRET/);
    expect(() => load({ SMTP_HOST: 'mail', MAIL_FROM: 'x@y.z', DOWNLOAD_LINK_SECRET: 'short' })).toThrow(/DOWNLOAD_LINK_SECRET: must be at least 32 bytes/);
  });

  it.each([...KNOWN_DEFAULT_SECRETS])('when DOWNLOAD_LINK_SECRET is the published default %j in production, then start-up is refused', (secret) => {
    const mail = { SMTP_HOST: 'mail', MAIL_FROM: 'x@y.z' };
    expect(() => load({ ...mail, DOWNLOAD_LINK_SECRET: secret })).toThrow(/DOWNLOAD_LINK_SECRET: is a published development default/);
    expect(load({ ...mail, DOWNLOAD_LINK_SECRET: secret, NODE_ENV: 'development' }).DOWNLOAD_LINK_SECRET).toBe(secret);
  });

  it('when HOST is not set, then the probe port is bound to loopback only', () => {
    expect(loadConfig({ SMTP_HOST: 'mail', MAIL_FROM: 'x@y.z' }).HOST).toBe('127.0.0.1');
  });

  it('when no mail server is configured, then start-up is refused naming the keys', () => {
    expect(() => loadConfig({})).toThrow(/SMTP_HOST.*\n.*MAIL_FROM/s);
  });
});
