import { once } from 'node:events';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  port: number;
  mails: ParsedMail[];
  /** RCPT TO attempts, accepted or not. */
  attempts: string[];
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback. `reject` answers RCPT TO with the given code (e.g. 550 or 451) for the
 * addresses it matches.
 */
export async function startSmtp({ port = 0, reject }: { port?: number; reject?: (to: string) => number | undefined } = {}): Promise<TestSmtp> {
  const mails: ParsedMail[] = [];
  const attempts: string[] = [];
  let server: SMTPServer | undefined;
  const self: TestSmtp = {
    port,
    mails,
    attempts,
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onRcptTo(address, _session, callback) {
          attempts.push(address.address);
          const code = reject?.(address.address);
          if (code) {
            const err = Object.assign(new Error(`${code} rejected by test`), { responseCode: code });
            return callback(err);
          }
          callback();
        },
        onData(stream, _session, callback) {
          simpleParser(stream).then(
            (mail) => {
              mails.push(mail);
              callback();
            },
            (err: Error) => callback(err),
          );
        },
      });
      server.listen(self.port, '127.0.0.1');
      await once(server.server, 'listening');
      self.port = (server.server.address() as { port: number }).port;
    },
    async close() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
  };
  await self.start();
  return self;
}
