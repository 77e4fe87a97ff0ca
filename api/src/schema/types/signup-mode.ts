import { SignupClosedError } from '@hero/core/errors';
import { builder } from '../builder.ts';
import { ErrorInterface } from './errors.ts';

export const SignupModeEnum = builder.enumType('SignupMode', {
  values: {
    OPEN: { value: 'open', description: 'Anyone may sign up.' },
    INVITE: {
      value: 'invite',
      description: "Accounts come only by an operator's invitation; signUp answers SIGNUP_CLOSED.",
    },
    CLOSED: {
      value: 'closed',
      description: 'No new accounts but those operators create; signUp answers SIGNUP_CLOSED.',
    },
  } as const,
});

builder.queryField('signupMode', (t) =>
  t.field({
    type: SignupModeEnum,
    description: 'Public: who may sign up here (SIGNUP_MODE).',
    resolve: (_root, _args, ctx) => ctx.settings.signupMode,
  }),
);

builder.objectType(SignupClosedError, {
  name: 'SignupClosedError',
  description:
    'SIGNUP_CLOSED: sign-up is not open here (SIGNUP_MODE `invite` or `closed`); nothing was created. Accounts come from an operator (with an invitation link).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof SignupClosedError,
  fields: (t) => ({ mode: t.field({ type: SignupModeEnum, resolve: (e) => e.mode }) }),
});
