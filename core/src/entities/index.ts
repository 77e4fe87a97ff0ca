import { AggregatorNodeState } from './aggregator-node-state.entity.ts';
import { AuthSession } from './auth-session.entity.ts';
import { Billing } from './billing.entity.ts';
import { ConsumedRecord } from './consumed-record.entity.ts';
import { CreditWatch } from './credit-watch.entity.ts';
import { JobRun } from './job-run.entity.ts';
import { LedgerEntry } from './ledger-entry.entity.ts';
import { OutboxEvent } from './outbox-event.entity.ts';
import { PaymentEvent } from './payment-event.entity.ts';
import { PlanPurchase } from './plan-purchase.entity.ts';
import { PoolVm } from './pool-vm.entity.ts';
import { RejectedUsageRecord } from './rejected-usage-record.entity.ts';
import { UsageFileState } from './usage-file-state.entity.ts';
import { User } from './user.entity.ts';
import { VmAllocation } from './vm-allocation.entity.ts';
import { WebhookEvent } from './webhook-event.entity.ts';

/** The explicit entity list of the MikroORM config. */
export const entities = [
  User,
  AuthSession,
  Billing,
  PaymentEvent,
  LedgerEntry,
  CreditWatch,
  PlanPurchase,
  WebhookEvent,
  PoolVm,
  VmAllocation,
  ConsumedRecord,
  AggregatorNodeState,
  RejectedUsageRecord,
  UsageFileState,
  JobRun,
  OutboxEvent,
];
