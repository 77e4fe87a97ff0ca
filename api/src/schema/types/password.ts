import {
  changePassword,
  RESET_TOKEN_TTL_MINUTES,
  requestPasswordReset,
  resetPassword,
} from '@hero/core/auth/password-reset';
import { PASSWORD_RULES_TEXT } from '@hero/core/auth/password-rules';
import {
  InvalidCredentialsError,
  RateLimitedError,
  ResetTokenInvalidError,
  UnauthenticatedError,
  ValidationError,
} from '@hero/core/errors';
import type { Context } from '../../http/context.ts';
import { builder } from '../builder.ts';
import { ErrorInterface } from './errors.ts';

builder.objectType(ResetTokenInvalidError, {
  name: 'ResetTokenInvalidError',
  description:
    'RESET_TOKEN_INVALID: the reset link is unknown, used already or expired (one answer for all three); nothing was changed. Ask for a new link.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ResetTokenInvalidError,
});

const RESET_REQUESTED_MESSAGE = `If an account has this email, a link to choose a new password is on its way; it works once, for ${RESET_TOKEN_TTL_MINUTES} minutes.`;

const RequestPasswordResetSuccess = builder
  .objectRef<{ message: string }>('RequestPasswordResetSuccess')
  .implement({
    description:
      'The same answer whether or not an account has the email (so the answer says nothing about who has an account).',
    fields: (t) => ({ message: t.exposeString('message') }),
  });

const ResetPasswordSuccess = builder.objectRef<{ sessionsEnded: number }>('ResetPasswordSuccess').implement({
  description: 'The new password is set; every session of the account was ended: sign in with it.',
  fields: (t) => ({ sessionsEnded: t.exposeInt('sessionsEnded') }),
});

export const ChangePasswordSuccess = builder
  .objectRef<{ sessionsEnded: number }>('ChangePasswordSuccess')
  .implement({
    description: 'The new password is set; every other session of the account was ended (this one stays).',
    fields: (t) => ({ sessionsEnded: t.exposeInt('sessionsEnded') }),
  });

const ResetPasswordInput = builder.inputType('ResetPasswordInput', {
  fields: (t) => ({
    token: t.string({ description: 'The `token` parameter of the emailed link (`hpr_…`).' }),
    newPassword: t.string({ description: `${PASSWORD_RULES_TEXT}.` }),
  }),
});

export const ChangePasswordInput = builder.inputType('ChangePasswordInput', {
  fields: (t) => ({
    currentPassword: t.string(),
    newPassword: t.string({ description: `${PASSWORD_RULES_TEXT}, and not the current one.` }),
  }),
});

const resetSettings = (ctx: Context) => ({
  webUrl: ctx.settings.passwordReset.webUrl,
  rateLimitEmail: ctx.settings.passwordReset.rateLimitEmail,
  rateLimitIp: ctx.settings.auth.rateLimitIp,
});

builder.mutationField('requestPasswordReset', (t) =>
  t.field({
    type: RequestPasswordResetSuccess,
    description: `Public: email a password reset link (WEB_PUBLIC_URL/reset?token=…, single use, ${RESET_TOKEN_TTL_MINUTES} minutes) to the account with this email, if there is one. The answer is the same either way. At most PASSWORD_RESET_RATE_LIMIT_EMAIL requests per email and AUTH_RATE_LIMIT_IP per client address in 15 minutes.`,
    args: { email: t.arg.string() },
    errors: {
      types: [RateLimitedError],
      union: { name: 'RequestPasswordResetResult' },
      directResult: true,
    },
    resolve: async (_root, { email }, ctx) => {
      // Not awaiting the delivery: it neither holds the answer nor tells by its timing.
      await requestPasswordReset(ctx.em, email, {
        settings: resetSettings(ctx),
        client: ctx.client,
        mailer: ctx.mailer,
        log: ctx.log,
      });
      return { message: RESET_REQUESTED_MESSAGE };
    },
  }),
);

builder.mutationField('resetPassword', (t) =>
  t.field({
    type: ResetPasswordSuccess,
    description:
      'Public: set a new password with the token of a reset link. The token then stops working (as do other outstanding links of the account) and every session of the account ends. A new password against the rules leaves the token usable.',
    args: { input: t.arg({ type: ResetPasswordInput }) },
    errors: {
      types: [ResetTokenInvalidError, ValidationError, RateLimitedError],
      union: { name: 'ResetPasswordResult' },
      directResult: true,
    },
    resolve: async (_root, { input }, ctx) => {
      const { sessionsEnded } = await resetPassword(ctx.em, input, {
        settings: resetSettings(ctx),
        client: ctx.client,
      });
      return { sessionsEnded };
    },
  }),
);

builder.mutationField('changePassword', (t) =>
  t.field({
    type: ChangePasswordSuccess,
    description:
      "User: change the password, giving the current one. Every other session of the account ends (the caller's session stays; with an API token, every session ends). Wrong current password: INVALID_CREDENTIALS, counted against the sign-in rate limits.",
    authScopes: { user: true },
    args: { input: t.arg({ type: ChangePasswordInput }) },
    errors: {
      types: [InvalidCredentialsError, ValidationError, RateLimitedError],
      union: { name: 'ChangePasswordResult' },
      directResult: true,
    },
    resolve: (_root, { input }, ctx) => {
      if (!ctx.user) throw new UnauthenticatedError('Sign in first');
      return changePassword(ctx.em, ctx.user.id, input, {
        keepSessionId: ctx.sessionId,
        settings: ctx.settings.auth,
        client: ctx.client,
      });
    },
  }),
);
