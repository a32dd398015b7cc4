import { once } from 'node:events';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * How the server answers: `accept` mails what it is given; `defer` answers every RCPT TO with 451 (a
 * temporary refusal); `silent` takes connections but never sends its greeting (a server that hangs).
 */
export type SmtpMode = 'accept' | 'defer' | 'silent';

export interface TestSmtp {
  port: number;
  mails: ParsedMail[];
  /** RCPT TO attempts, accepted or not. */
  attempts: string[];
  /** Connections taken, answered or not. */
  connections: number;
  /** Can be changed at any time; connections already open keep to the mode they met. */
  mode: SmtpMode;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback. `reject` answers RCPT TO with the given code (e.g. 550 or 451) for the
 * addresses it matches; `mode` answers every address (see SmtpMode).
 */
export async function startSmtp({
  port = 0,
  reject,
  mode = 'accept',
}: {
  port?: number;
  reject?: (to: string) => number | undefined;
  mode?: SmtpMode;
} = {}): Promise<TestSmtp> {
  const mails: ParsedMail[] = [];
  const attempts: string[] = [];
  let server: SMTPServer | undefined;
  const self: TestSmtp = {
    port,
    mails,
    attempts,
    connections: 0,
    mode,
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onConnect(_session, callback) {
          self.connections++;
          // Never calling back holds the greeting: the client waits until its own timeout gives up.
          if (self.mode !== 'silent') callback();
        },
        onRcptTo(address, _session, callback) {
          attempts.push(address.address);
          const code = self.mode === 'defer' ? 451 : reject?.(address.address);
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
      if (!s) return;
      // Connections held silent would keep close() waiting for them: they are cut.
      for (const c of s.connections) c.close();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
  await self.start();
  return self;
}
