import {
  type MonthlyStatement,
  monthlyStatement,
  STATEMENT_LINE_KINDS,
  type StatementLine,
  type StatementLineGroup,
  type StatementUsage,
  statementCsv,
  statementCsvFilename,
  statementMonths,
  type UsageGroup,
  type UsageOrigin,
} from '@hero/core/billing/statements';
import { NotFoundError, ValidationError } from '@hero/core/errors';
import { builder } from '../builder.ts';
import { UserType } from './user.ts';

const StatementLineKindEnum = builder.enumType('StatementLineKind', { values: STATEMENT_LINE_KINDS });

const StatementLineType = builder.objectRef<StatementLine>('StatementLine').implement({
  description: 'One ledger row of the month other than usage.',
  fields: (t) => ({
    ledgerEntryId: t.expose('ledgerEntryId', { type: 'SafeInt' }),
    kind: t.field({ type: StatementLineKindEnum, resolve: (l) => l.kind }),
    at: t.expose('at', { type: 'DateTime' }),
    amountCents: t.expose('amountCents', { type: 'SafeInt', description: 'Signed: credit > 0, debit < 0.' }),
    currency: t.exposeString('currency'),
    description: t.exposeString('description'),
    reference: t.exposeString('reference', { nullable: true }),
    paymentId: t.exposeID('paymentId', {
      nullable: true,
      description: 'PAYMENT and REFUND: the payment event, whose `receipt` can be read.',
    }),
  }),
});

const StatementLineGroupType = builder.objectRef<StatementLineGroup>('StatementLineGroup').implement({
  fields: (t) => ({
    kind: t.field({ type: StatementLineKindEnum, resolve: (g) => g.kind }),
    lines: t.field({ type: [StatementLineType], resolve: (g) => g.lines }),
    totalCents: t.expose('totalCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
  }),
});

const StatementUsageOriginType = builder.objectRef<UsageOrigin>('StatementUsageOrigin').implement({
  description: 'Usage read from one billing-repository file at one commit.',
  fields: (t) => ({
    nodeName: t.exposeString('nodeName'),
    commitSha: t.exposeString('commitSha', {
      nullable: true,
      description: 'The commit the file was read at; null for usage consumed before commits were kept.',
    }),
    filePath: t.exposeString('filePath'),
    records: t.exposeInt('records'),
    quantity: t.exposeFloat('quantity'),
    amountCents: t.expose('amountCents', { type: 'SafeInt', description: 'Signed: a debit, ≤ 0.' }),
    currency: t.exposeString('currency'),
    fileUrl: t.string({
      nullable: true,
      description: 'The file at that commit on the forge; null without a forge or a commit.',
      resolve: (o, _args, ctx) =>
        o.commitSha && ctx.settings.forgeLinks ? ctx.settings.forgeLinks.file(o.commitSha, o.filePath) : null,
    }),
    commitUrl: t.string({
      nullable: true,
      description: 'The commit on the forge; null without a forge or a commit.',
      resolve: (o, _args, ctx) =>
        o.commitSha && ctx.settings.forgeLinks ? ctx.settings.forgeLinks.commit(o.commitSha) : null,
    }),
  }),
});

const StatementUsageGroupType = builder.objectRef<UsageGroup>('StatementUsageGroup').implement({
  description: 'Usage of one resource on one node in the month.',
  fields: (t) => ({
    resource: t.exposeString('resource'),
    nodeName: t.exposeString('nodeName'),
    records: t.exposeInt('records'),
    quantity: t.exposeFloat('quantity'),
    amountCents: t.expose('amountCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
    origins: t.field({ type: [StatementUsageOriginType], resolve: (g) => g.origins }),
  }),
});

const StatementUsageType = builder.objectRef<StatementUsage>('StatementUsage').implement({
  fields: (t) => ({
    groups: t.field({ type: [StatementUsageGroupType], resolve: (u) => u.groups }),
    totalCents: t.expose('totalCents', {
      type: 'SafeInt',
      description: "What the month's USAGE ledger rows debited (≤ 0).",
    }),
    unattributedCents: t.expose('unattributedCents', {
      type: 'SafeInt',
      description:
        'USAGE debits without consumed records behind them in the month; 0 unless the two disagree.',
    }),
    currency: t.exposeString('currency'),
  }),
});

const StatementType = builder.objectRef<MonthlyStatement>('Statement').implement({
  description:
    "A user's month (UTC calendar month) from the ledger: opening + every line + usage = closing, to the cent. Amounts are signed cents in `currency`.",
  fields: (t) => ({
    userId: t.exposeID('userId'),
    month: t.exposeString('month', { description: 'YYYY-MM.' }),
    from: t.expose('from', { type: 'DateTime', description: 'First instant of the month, UTC.' }),
    to: t.expose('to', {
      type: 'DateTime',
      description: 'First instant of the next month, UTC (exclusive).',
    }),
    currency: t.exposeString('currency'),
    openingBalanceCents: t.expose('openingBalanceCents', { type: 'SafeInt' }),
    groups: t.field({
      type: [StatementLineGroupType],
      description: 'PAYMENT, REFUND, PLAN_PURCHASE, ADJUSTMENT: always all four, in that order.',
      resolve: (s) => s.groups,
    }),
    usage: t.field({ type: StatementUsageType, resolve: (s) => s.usage }),
    closingBalanceCents: t.expose('closingBalanceCents', { type: 'SafeInt' }),
    netChangeCents: t.expose('netChangeCents', { type: 'SafeInt' }),
    ledgerEntries: t.exposeInt('ledgerEntries'),
    csv: t.string({
      description:
        'The statement as CSV (RFC 4180; text cells that would start a formula are prefixed with an apostrophe).',
      resolve: (s) => statementCsv(s),
    }),
    csvFilename: t.string({ resolve: (s) => statementCsvFilename(s) }),
  }),
});

builder.objectField(UserType, 'statementMonths', (t) =>
  t.stringList({
    description:
      'The months (YYYY-MM, UTC) with a statement: from the first ledger row to now, newest first.',
    resolve: (user, _args, ctx) => statementMonths(ctx.em, user.id),
  }),
);

builder.queryField('statement', (t) =>
  t.field({
    type: StatementType,
    description: "User: the viewer's statement for a month (YYYY-MM, UTC).",
    authScopes: { user: true },
    args: { month: t.arg.string() },
    errors: {
      types: [ValidationError, NotFoundError],
      union: { name: 'StatementResult' },
      result: { name: 'StatementSuccess' },
      dataField: { name: 'statement' },
    },
    resolve: (_root, args, ctx) => monthlyStatement(ctx.em, ctx.user!.id, args.month),
  }),
);

builder.queryField('userStatement', (t) =>
  t.field({
    type: StatementType,
    description: "Admin: a user's statement for a month (YYYY-MM, UTC).",
    authScopes: { adminRead: true },
    args: { userId: t.arg.id(), month: t.arg.string() },
    errors: {
      types: [ValidationError, NotFoundError],
      union: { name: 'UserStatementResult' },
      result: { name: 'UserStatementSuccess' },
      dataField: { name: 'statement' },
    },
    resolve: (_root, args, ctx) => monthlyStatement(ctx.em, String(args.userId), args.month),
  }),
);
