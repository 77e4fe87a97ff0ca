import type { CommandLineOf } from '../command.ts';
import { aggregate } from './aggregate.ts';
import { allocationsExtend, allocationsList, allocationsRelease } from './allocations.ts';
import { auditList } from './audit.ts';
import { autoRelease } from './auto-release.ts';
import { billingAdjust } from './billing.ts';
import { jobsList } from './jobs.ts';
import { ledgerList } from './ledger.ts';
import { operatorsAdd, operatorsList, operatorsRemove, operatorsSetRole } from './operators.ts';
import { paymentsList, paymentsRecord, paymentsRefund } from './payments.ts';
import { plansList } from './plans.ts';
import { poolList, poolRefresh } from './pool.ts';
import { reconcile } from './reconcile.ts';
import { usagePush } from './usage-push.ts';
import {
  usersCreate,
  usersDelete,
  usersInvite,
  usersList,
  usersSetQuota,
  usersShow,
  usersSuspend,
  usersUnsuspend,
} from './users.ts';

/**
 * Every `hero-admin` command, in the order `hero-admin --help` lists them: the one place a new
 * command is added (its definition lives in its own file beside this one). Parsing, help and
 * dispatch read this list; a group (`pool`) is the first word the commands share.
 */
export const COMMANDS = [
  autoRelease,
  aggregate,
  usagePush,
  poolRefresh,
  poolList,
  allocationsList,
  allocationsExtend,
  allocationsRelease,
  usersList,
  usersShow,
  usersSetQuota,
  usersCreate,
  usersInvite,
  usersSuspend,
  usersUnsuspend,
  usersDelete,
  jobsList,
  auditList,
  operatorsList,
  operatorsAdd,
  operatorsSetRole,
  operatorsRemove,
  paymentsRecord,
  paymentsRefund,
  paymentsList,
  billingAdjust,
  ledgerList,
  plansList,
  reconcile,
] as const;

/** A parsed command line: the command's name and its arguments. */
export type Command = CommandLineOf<(typeof COMMANDS)[number]>;
