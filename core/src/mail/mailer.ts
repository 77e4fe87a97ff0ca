import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '../lib/logger.ts';
import type { MailContent } from './templates.ts';

/** Mail settings (SMTP_URL, MAIL_FROM, MAIL_DIR, MAIL_TIMEOUT_MS). */
export interface MailConfig {
  /** `smtp://user:pass@host:587` or `smtps://…`; null: no SMTP (MAIL_DIR or the log). */
  smtpUrl: string | null;
  /** The From header, e.g. `hero-onboarding <noreply@example.org>`. */
  from: string;
  /** Without SMTP: write each message here as a .eml file (npm start sets .data/mail). */
  dir: string | null;
  /** Bound on connecting, greeting and every socket wait of one SMTP delivery. */
  timeoutMs: number;
}

export const DEFAULT_MAIL_FROM = 'hero-onboarding <noreply@localhost>';
export const DEFAULT_MAIL_TIMEOUT_MS = 10_000;

export interface OutgoingMail extends MailContent {
  to: string;
  /** `<id@host>`; nodemailer makes one up when it is not given. */
  messageId?: string;
}

export interface Mailer {
  /** `smtp://host:port`, `directory <path>` or `log` (never the SMTP credentials). */
  readonly description: string;
  /** Delivers one message; rejects when the transport fails (within timeoutMs for SMTP). */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** The SMTP URL without its credentials, for logs and banners. */
export function describeSmtpUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'smtp (unparsable URL)';
  }
}

/**
 * The mailer the configuration asks for: SMTP through nodemailer when SMTP_URL is set; else a
 * directory of .eml files when MAIL_DIR is set (each written file is logged with its path);
 * else the log, at info, with the text part (links included: a development setting).
 */
export function createMailer(config: MailConfig, log: Logger): Mailer {
  if (config.smtpUrl) {
    const transport = nodemailer.createTransport({
      url: config.smtpUrl,
      connectionTimeout: config.timeoutMs,
      greetingTimeout: config.timeoutMs,
      socketTimeout: config.timeoutMs,
    });
    return {
      description: describeSmtpUrl(config.smtpUrl),
      async send(mail) {
        await transport.sendMail({ from: config.from, ...mail });
      },
      close: () => transport.close(),
    };
  }
  if (config.dir) {
    const dir = config.dir;
    const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    return {
      description: `directory ${dir}`,
      async send(mail) {
        const info = await composer.sendMail({ from: config.from, ...mail });
        await mkdir(dir, { recursive: true });
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const file = join(dir, `${stamp}-${Math.random().toString(36).slice(2, 8)}.eml`);
        await writeFile(file, info.message as Buffer);
        // A development setting: the links are logged, so that a reset link is one click away.
        const links = mail.text.match(/https?:\/\/\S+/g) ?? [];
        log.info({ to: mail.to, subject: mail.subject, file, links }, `mail written to ${file}`);
      },
      close: () => composer.close(),
    };
  }
  return {
    description: 'log',
    async send(mail) {
      log.info(
        { to: mail.to, subject: mail.subject, text: mail.text },
        'mail (no SMTP_URL: logged, not sent)',
      );
    },
    close: () => {},
  };
}

/** A mailer that keeps what it is given (in-process tests). */
export function memoryMailer(): Mailer & { sent: OutgoingMail[] } {
  const sent: OutgoingMail[] = [];
  return {
    description: 'memory',
    sent,
    async send(mail) {
      sent.push(mail);
    },
    close: () => {},
  };
}
