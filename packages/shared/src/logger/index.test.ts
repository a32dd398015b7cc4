import { expect, it } from 'vitest';
import { captureLogger } from '../testing/index.js';

it('when secrets are logged, then tokens, passwords and Authorization headers are redacted', () => {
  const { logger, lines } = captureLogger('svc');
  logger.info(
    {
      password: 'p1',
      user: { password: 'p2', token: 't1' },
      req: { headers: { authorization: 'Bearer abc' } },
      headers: { authorization: 'Basic xyz' },
      config: { JWT_SECRET: 's', SMTP_PASSWORD: 'q' },
    },
    'hello',
  );
  const text = JSON.stringify(lines());
  for (const secret of ['p1', 'p2', 't1', 'Bearer abc', 'Basic xyz', '"s"', '"q"']) expect(text).not.toContain(secret);
  expect(lines()[0]).toMatchObject({ service: 'svc', level: 'info', msg: 'hello' });
});
