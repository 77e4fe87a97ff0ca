import { AggregatorNodeState } from '@hero/core/entities/aggregator-node-state.entity';
import { ConsumedRecord } from '@hero/core/entities/consumed-record.entity';
import { RejectedUsageRecord } from '@hero/core/entities/rejected-usage-record.entity';
import { isUuid } from '@hero/core/lib/ids';
import { type AggregateSummary, aggregateNow, MAX_IGNORED_LISTED } from '@hero/core/usage/aggregate-usage';
import { listNodeStates, pageConsumedRecords, pageRejectedRecords } from '@hero/core/usage/list-usage';
import type { IgnoredFile } from '@hero/core/usage/usage-format';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../builder.ts';

const IgnoredFileType = builder.objectRef<IgnoredFile>('IgnoredFile').implement({
  description:
    'A file or folder under nodes/ in the billing repository that the aggregator does not read as usage (never debited).',
  fields: (t) => ({
    path: t.exposeString('path', { description: 'A folder ends with /.' }),
    reason: t.exposeString('reason', {
      description: 'Why it is not read, e.g. not named usage_<YYYY-MM-DD-HH>.otoml.',
    }),
  }),
});

const DebitedAmountType = builder.objectRef<{ currency: string; cents: number }>('DebitedAmount').implement({
  description: 'An amount debited in one currency.',
  fields: (t) => ({
    currency: t.exposeString('currency', { description: 'ISO 4217 code.' }),
    cents: t.expose('cents', { type: 'SafeInt' }),
  }),
});

export const AggregateSummaryType = builder.objectRef<AggregateSummary>('AggregateSummary').implement({
  description: 'What one aggregation run did.',
  fields: (t) => ({
    nodesSeen: t.exposeInt('nodesSeen', { description: 'Node directories under nodes/ at the branch head.' }),
    nodesSkipped: t.exposeInt('nodesSkipped', {
      description: 'Nodes whose latest commit was already applied (nothing read).',
    }),
    nodesFailed: t.exposeInt('nodesFailed', {
      description: 'Nodes halted for this run with lastError set; their position did not move.',
    }),
    filesRead: t.exposeInt('filesRead', { description: 'Files read because their blob sha changed.' }),
    recordsSeen: t.exposeInt('recordsSeen'),
    recordsApplied: t.exposeInt('recordsApplied', { description: 'Records debited by this run.' }),
    recordsDuplicate: t.exposeInt('recordsDuplicate', {
      description: 'Records whose idempotency key was already consumed (not debited again).',
    }),
    recordsRejected: t.exposeInt('recordsRejected', {
      description: 'Records that cannot be applied; see rejectedRecords for the reasons.',
    }),
    centsDebited: t.expose('centsDebited', {
      type: 'SafeInt',
      description: 'Cents debited by this run, summed across currencies: see debitedByCurrency.',
    }),
    debitedByCurrency: t.field({
      type: [DebitedAmountType],
      description: "centsDebited per balance currency (the users' billing currency), by currency code.",
      resolve: (s) => s.debitedByCurrency,
    }),
    ignoredFiles: t.exposeInt('ignoredFiles', {
      description:
        'Files and folders under nodes/ at the branch head that are not read as usage (misnamed, in a sub-directory, outside a node directory, a node directory breaking the naming rule). Nodes this run skipped count as last read.',
    }),
    ignoredFileList: t.field({
      type: [IgnoredFileType],
      description: `The first ${MAX_IGNORED_LISTED} ignored files, with the reason.`,
      resolve: (s) => s.ignoredFileList,
    }),
    errors: t.exposeStringList('errors', {
      description: 'One line per failed node (the first 100, then a count).',
    }),
  }),
});

const AggregatorNodeStateType = builder.objectType(AggregatorNodeState, {
  name: 'AggregatorNodeState',
  description: "The aggregator's position in one node's usage files.",
  fields: (t) => ({
    nodeName: t.exposeString('nodeName'),
    lastCommitSha: t.exposeString('lastCommitSha', {
      nullable: true,
      description: 'The latest commit touching nodes/<node> that was applied whole.',
    }),
    lastRunAt: t.expose('lastRunAt', { type: 'DateTime', nullable: true }),
    lastSuccessAt: t.expose('lastSuccessAt', { type: 'DateTime', nullable: true }),
    recordsConsumedTotal: t.expose('recordsConsumedTotal', { type: 'SafeInt' }),
    filesTotal: t.exposeInt('filesTotal'),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the last run failed on this node; null once a run applies it.',
    }),
    ignoredFiles: t.exposeInt('ignoredFiles', {
      description:
        "Files in the node's directory that are not usage files (not read), when it was last read.",
    }),
    ignoredFileList: t.field({
      type: [IgnoredFileType],
      description: `The first ${MAX_IGNORED_LISTED} of them, with the reason.`,
      resolve: (n) => n.ignoredFileList ?? [],
    }),
  }),
});

const ConsumedRecordType = builder.objectType(ConsumedRecord, {
  name: 'ConsumedRecord',
  description: 'A usage record that was debited (its key is never applied again).',
  fields: (t) => ({
    idempotencyKey: t.exposeString('idempotencyKey'),
    userId: t.exposeID('userId'),
    nodeName: t.exposeString('nodeName'),
    filePath: t.exposeString('filePath'),
    commitSha: t.exposeString('commitSha', {
      nullable: true,
      description:
        'The billing-repository commit the file was read at; null for records consumed before it was kept.',
    }),
    resource: t.exposeString('resource'),
    quantity: t.float({ resolve: (r) => Number(r.quantity) }),
    costCents: t.expose('costCents', { type: 'SafeInt' }),
    periodStart: t.expose('periodStart', { type: 'DateTime', nullable: true }),
    periodEnd: t.expose('periodEnd', { type: 'DateTime', nullable: true }),
    allocationId: t.exposeID('allocationId', { nullable: true }),
    appliedAt: t.expose('appliedAt', { type: 'DateTime' }),
  }),
});

const RejectedUsageRecordType = builder.objectType(RejectedUsageRecord, {
  name: 'RejectedUsageRecord',
  description: 'A usage record that could not be applied, with the reason.',
  fields: (t) => ({
    id: t.id({ resolve: (r) => String(r.id) }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    userId: t.exposeString('userId', { nullable: true, description: 'As written in the record.' }),
    nodeName: t.exposeString('nodeName'),
    filePath: t.exposeString('filePath'),
    reason: t.exposeString('reason'),
    record: t.expose('record', {
      type: 'JSON',
      description: 'The record as written (dates as ISO strings).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.mutationField('aggregateNow', (t) =>
  t.field({
    type: AggregateSummaryType,
    description:
      'Admin: aggregate usage from the billing repository now (a MANUAL job run). Shares the run lock with the aggregator workers: while a run is in progress this answers ALREADY_RUNNING (HTTP 409). USAGE_SOURCE_UNAVAILABLE (503) when no usage source is configured.',
    authScopes: { operate: true },
    resolve: (_root, _args, ctx) =>
      aggregateNow(ctx.em, {
        source: ctx.usageSource,
        batchSize: ctx.settings.aggregateBatchSize,
        log: ctx.log.child({ job: 'aggregate' }),
      }),
  }),
);

builder.queryField('aggregatorState', (t) =>
  t.field({
    type: [AggregatorNodeStateType],
    description: "Admin: the aggregator's state per node, by node name.",
    authScopes: { adminRead: true },
    resolve: (_root, _args, ctx) => listNodeStates(ctx.em),
  }),
);

builder.queryField('consumedRecords', (t) =>
  t.connection({
    type: ConsumedRecordType,
    description: 'Admin: debited usage records, newest first, optionally for one user or node.',
    authScopes: { adminRead: true },
    args: {
      userId: t.arg.id({ required: false }),
      nodeName: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const userId = args.userId ? String(args.userId) : undefined;
      // Not a uuid: no record can match (as for allocations).
      if (userId && !isUuid(userId)) return resolveOffsetConnection({ args }, () => []);
      return resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageConsumedRecords(ctx.em, { userId, nodeName: args.nodeName ?? undefined }, limit, offset),
      );
    },
  }),
);

builder.queryField('rejectedRecords', (t) =>
  t.connection({
    type: RejectedUsageRecordType,
    description: 'Admin: usage records that could not be applied, newest first, optionally for one node.',
    authScopes: { adminRead: true },
    args: {
      userId: t.arg.string({ required: false }),
      nodeName: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageRejectedRecords(
          ctx.em,
          { userId: args.userId ?? undefined, nodeName: args.nodeName ?? undefined },
          limit,
          offset,
        ),
      ),
  }),
);
