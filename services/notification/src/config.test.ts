import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

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

  it('when no mail server is configured, then start-up is refused naming the keys', () => {
    expect(() => loadConfig({})).toThrow(/SMTP_HOST.*\n.*MAIL_FROM/s);
  });
});
