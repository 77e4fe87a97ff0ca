import {
  EMAIL_LINK_TTL_HOURS,
  type EmailLinkSettings,
  requestEmailChange,
  resendEmailVerification,
  useEmailLink,
} from '@hero/core/auth/email-verification';
import {
  EmailLinkInvalidError,
  EmailTakenError,
  InvalidCredentialsError,
  RateLimitedError,
  UnauthenticatedError,
  ValidationError,
} from '@hero/core/errors';
import type { Context } from '../../http/context.ts';
import { builder } from '../builder.ts';
import { ErrorInterface } from './errors.ts';

builder.objectType(EmailLinkInvalidError, {
  name: 'EmailLinkInvalidError',
  description:
    'EMAIL_LINK_INVALID: the verification or email change link is unknown, used already or expired (one answer for all three); nothing was changed. Ask for a new one.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof EmailLinkInvalidError,
});

/** The links' base URL and rate limits are the password reset's. */
const linkSettings = (ctx: Context): EmailLinkSettings => ({
  webUrl: ctx.settings.passwordReset.webUrl,
  rateLimitEmail: ctx.settings.passwordReset.rateLimitEmail,
  rateLimitIp: ctx.settings.auth.rateLimitIp,
});

const signedInUser = (ctx: Context) => {
  if (!ctx.user) throw new UnauthenticatedError('Sign in first');
  return ctx.user;
};

const ResendEmailVerificationSuccess = builder
  .objectRef<{ email: string; alreadyVerified: boolean }>('ResendEmailVerificationSuccess')
  .implement({
    description:
      'A new link is on its way to `email` (earlier ones stop working), unless it is verified already.',
    fields: (t) => ({
      email: t.exposeString('email'),
      alreadyVerified: t.exposeBoolean('alreadyVerified', {
        description: 'True: the email is verified already, nothing was sent.',
      }),
    }),
  });

const VerifyEmailSuccess = builder
  .objectRef<{ email: string; changed: boolean }>('VerifyEmailSuccess')
  .implement({
    description: "The link is used: the account's email is `email`, and it is verified.",
    fields: (t) => ({
      email: t.exposeString('email'),
      changed: t.exposeBoolean('changed', {
        description:
          'True for an email change link (the account moved to `email`), false for a verification.',
      }),
    }),
  });

const RequestEmailChangeSuccess = builder
  .objectRef<{ newEmail: string; expiresAt: Date }>('RequestEmailChangeSuccess')
  .implement({
    description:
      'A confirmation link is on its way to `newEmail` and a notice to the current email; the email changes when the link is used.',
    fields: (t) => ({
      newEmail: t.exposeString('newEmail', { description: 'Trimmed and lower-cased.' }),
      expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the link stops working.' }),
    }),
  });

const RequestEmailChangeInput = builder.inputType('RequestEmailChangeInput', {
  fields: (t) => ({
    currentPassword: t.string(),
    newEmail: t.string({ description: 'The address to move the account to.' }),
  }),
});

builder.mutationField('resendEmailVerification', (t) =>
  t.field({
    type: ResendEmailVerificationSuccess,
    description: `User: email a new verification link (WEB_PUBLIC_URL/verify?token=…, single use, ${EMAIL_LINK_TTL_HOURS} hours) to the account's email, when it is not verified yet. At most PASSWORD_RESET_RATE_LIMIT_EMAIL per user and AUTH_RATE_LIMIT_IP per client address in 15 minutes.`,
    authScopes: { user: true },
    errors: {
      types: [RateLimitedError],
      union: { name: 'ResendEmailVerificationResult' },
      directResult: true,
    },
    resolve: async (_root, _args, ctx) => {
      const { email, alreadyVerified } = await resendEmailVerification(ctx.em, signedInUser(ctx).id, {
        settings: linkSettings(ctx),
        client: ctx.client,
        mailer: ctx.mailer,
        log: ctx.log,
      });
      return { email, alreadyVerified };
    },
  }),
);

builder.mutationField('verifyEmail', (t) =>
  t.field({
    type: VerifyEmailSuccess,
    description:
      'Public: use the token of a verification link (verifies the email it was sent to) or of an email change link (moves the account to the new address, verified; other outstanding links of the account stop working). Each link works once. An address another account took since the change was asked for: EMAIL_TAKEN, nothing changed. Counts against AUTH_RATE_LIMIT_IP.',
    args: {
      token: t.arg.string({ description: 'The `token` parameter of the emailed link (`hpv_…`, `hpe_…`).' }),
    },
    errors: {
      types: [EmailLinkInvalidError, EmailTakenError, RateLimitedError],
      union: { name: 'VerifyEmailResult' },
      directResult: true,
    },
    resolve: async (_root, { token }, ctx) => {
      const { email, changed } = await useEmailLink(ctx.em, token, {
        settings: linkSettings(ctx),
        client: ctx.client,
      });
      return { email, changed };
    },
  }),
);

builder.mutationField('requestEmailChange', (t) =>
  t.field({
    type: RequestEmailChangeSuccess,
    description: `User: move the account to another email, giving the current password. A confirmation link (single use, ${EMAIL_LINK_TTL_HOURS} hours) goes to the NEW address and a notice to the current one; the email changes only when the link is used (verifyEmail). Wrong password: INVALID_CREDENTIALS; an invalid or unchanged address: BAD_USER_INPUT on \`newEmail\`; an address of another account: EMAIL_TAKEN. Changing or resetting the password cancels an outstanding change. At most PASSWORD_RESET_RATE_LIMIT_EMAIL per user and AUTH_RATE_LIMIT_IP per address in 15 minutes.`,
    authScopes: { user: true },
    args: { input: t.arg({ type: RequestEmailChangeInput }) },
    errors: {
      types: [InvalidCredentialsError, ValidationError, EmailTakenError, RateLimitedError],
      union: { name: 'RequestEmailChangeResult' },
      directResult: true,
    },
    resolve: async (_root, { input }, ctx) => {
      // Not awaiting the delivery: a slow SMTP server does not hold the answer.
      const { newEmail, expiresAt } = await requestEmailChange(ctx.em, signedInUser(ctx).id, input, {
        settings: linkSettings(ctx),
        client: ctx.client,
        mailer: ctx.mailer,
        log: ctx.log,
      });
      return { newEmail, expiresAt };
    },
  }),
);
