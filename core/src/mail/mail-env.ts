import { z } from 'zod';
import { DEFAULT_MAIL_FROM, DEFAULT_MAIL_TIMEOUT_MS, type MailConfig } from './mailer.ts';

/**
 * The mail settings of every process that sends email (the api: password reset, invitations;
 * the outbox worker: the users' event emails), spread into each process's config schema.
 */
export const mailEnv = {
  SMTP_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^smtps?:\/\//.test(v), 'must be an smtp:// or smtps:// URL')
    .describe(
      '`smtp://user:password@host:587` (STARTTLS when offered) or `smtps://…:465`: where email is sent (the api: password reset, invitations, email verification and change; the outbox worker: the emails of user events). Unset: messages go to `MAIL_DIR`, or else to the log',
    ),
  MAIL_FROM: z.string().min(3).default(DEFAULT_MAIL_FROM).describe('the From header of every email'),
  MAIL_DIR: z
    .string()
    .optional()
    .describe(
      'without `SMTP_URL`: write each email as an `.eml` file in this directory (the path is logged); `npm start` sets `.data/mail`',
    ),
  MAIL_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(DEFAULT_MAIL_TIMEOUT_MS)
    .describe(
      'bound on each wait of an SMTP delivery (connect, greeting, every reply). The api sends after the commit without holding the request and logs a failure at error; the outbox worker retries a failed email like any event',
    ),
};

interface MailEnv {
  SMTP_URL?: string;
  MAIL_FROM: string;
  MAIL_DIR?: string;
  MAIL_TIMEOUT_MS: number;
}

/** The mailer settings a parsed config holds. */
export function mailConfigOf(config: MailEnv): MailConfig {
  return {
    smtpUrl: config.SMTP_URL ?? null,
    from: config.MAIL_FROM,
    dir: config.MAIL_DIR ?? null,
    timeoutMs: config.MAIL_TIMEOUT_MS,
  };
}
