import { NotFoundError, ValidationError } from '@hero/core/errors';
import { type EmailPreferences, setEmailPreferences } from '@hero/core/users/email-preferences';
import { builder } from '../builder.ts';
import { UserType } from './user.ts';

const EmailPreferencesType = builder.objectRef<EmailPreferences>('EmailPreferences').implement({
  description:
    'Which of their events a user is also emailed about (sent by the outbox worker through SMTP_URL; the webhook gets every event regardless).',
  fields: (t) => ({
    warnings: t.exposeBoolean('warnings', {
      description:
        'On by default: the plan period ends without renewal (`plan.expiring`), credit low (`balance.low`) or negative (`balance.negative`), a VM released at the period end or for lack of credit (`allocation.released`).',
    }),
    receipts: t.exposeBoolean('receipts', {
      description:
        'Off by default: a payment credited (`payment.received`), a plan renewed (`plan.renewed`).',
    }),
  }),
});

builder.objectField(UserType, 'emailPreferences', (t) =>
  t.field({
    type: EmailPreferencesType,
    resolve: (user) => ({ warnings: user.emailWarnings, receipts: user.emailReceipts }),
  }),
);

builder.mutationField('setEmailPreferences', (t) =>
  t.field({
    type: EmailPreferencesType,
    description:
      'User: turn the emails of warnings and/or receipts on or off (an argument left out keeps its value; none given: BAD_USER_INPUT). Applies to events from now on: an email already queued is still sent.',
    authScopes: { user: true },
    args: {
      warnings: t.arg.boolean({ required: false }),
      receipts: t.arg.boolean({ required: false }),
    },
    errors: {
      types: [ValidationError, NotFoundError],
      union: { name: 'SetEmailPreferencesResult' },
      result: { name: 'SetEmailPreferencesSuccess' },
      dataField: { name: 'emailPreferences' },
    },
    resolve: (_root, args, ctx) =>
      setEmailPreferences(ctx.em, {
        userId: ctx.user!.id,
        warnings: args.warnings ?? undefined,
        receipts: args.receipts ?? undefined,
      }),
  }),
);
