import { assertValidSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './types/scalars.ts';
import './types/errors.ts';
import './types/pool-vm.ts';
import './types/vm-allocation.ts';
import './types/allocation-extension.ts';
import './types/user.ts';
import './types/user-lifecycle.ts';
import './types/session.ts';
import './types/password.ts';
import './types/email-verification.ts';
import './types/api-token.ts';
import './types/webhook-event.ts';
import './types/health.ts';
import './types/auto-release.ts';
import './types/job-run.ts';
import './types/usage.ts';
import './types/billing.ts';
import './types/credit-status.ts';
import './types/plan.ts';
import './types/statement.ts';
import './types/receipt.ts';
import './types/plan-status.ts';
import './types/email-preferences.ts';
import './types/top-up.ts';
import './types/audit-log.ts';
import './types/operator.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSchema();
assertValidSchema(schema);

/** The SDL committed as schema.graphql (checked in CI). */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema)).trimEnd()}\n`;
}
