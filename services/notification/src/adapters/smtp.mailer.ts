import nodemailer, { type Transporter } from 'nodemailer';
import type { Email } from '../domain/emails.js';
import { type Mailer, PermanentFailure, TransientFailure } from '../domain/ports.js';

export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  requireTls: boolean;
  user?: string | undefined;
  password?: string | undefined;
  from: string;
  timeoutMs: number;
}

/**
 * SMTP through nodemailer, one connection per email (nothing to go stale between messages). A 5xx answer is
 * permanent; a 4xx answer, a refused or dropped connection, or a timeout is worth retrying.
 */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(private readonly settings: SmtpSettings) {
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTls,
      ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
    });
  }

  async send(email: Email): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.settings.from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        messageId: email.messageId,
      });
    } catch (err) {
      throw classify(err);
    }
  }

  close(): void {
    this.transport.close();
  }
}

function classify(err: unknown): PermanentFailure | TransientFailure {
  const e = err as { responseCode?: number; code?: string; response?: string; message?: string };
  const detail = e.response ?? e.message ?? String(err);
  if (typeof e.responseCode === 'number') {
    return e.responseCode >= 500
      ? new PermanentFailure(`the mail server refused the email: ${detail}`, { cause: err })
      : new TransientFailure(`the mail server deferred the email: ${detail}`, { cause: err });
  }
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') return new PermanentFailure(`the email could not be sent: ${detail}`, { cause: err });
  return new TransientFailure(`the mail server could not be reached: ${e.code ?? detail}`, { cause: err });
}
