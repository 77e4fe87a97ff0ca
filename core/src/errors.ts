import type { z } from 'zod';
import { formatUtcMinute } from './lib/dates.ts';

/**
 * Domain errors. Each has a stable `code`. Errors a caller can act on are returned in GraphQL
 * result unions (Pothos errors plugin); the "transport" ones (auth, provisioner unavailable)
 * become top-level GraphQL errors with an HTTP status (see schema/errors.ts).
 */
export const ERROR_CODES = [
  'POOL_EXHAUSTED',
  'QUOTA_EXCEEDED',
  'PROVISIONER_UNAVAILABLE',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'ALREADY_RUNNING',
  'JOB_FAILED',
  'USAGE_SOURCE_UNAVAILABLE',
  'INSUFFICIENT_CREDIT',
  'CURRENCY_MISMATCH',
  'DUPLICATE_PAYMENT',
  'REFUND_EXCEEDS_PAYMENT',
  'EMAIL_TAKEN',
  'INVALID_CREDENTIALS',
  'RATE_LIMITED',
  'DATABASE_BUSY',
  'DATABASE_UNAVAILABLE',
  'ALLOCATION_NOT_ACTIVE',
  'NO_ACTIVE_PLAN',
  'BALANCE_NEGATIVE',
  'NO_PLAN_TO_RENEW',
  'TOPUP_UNAVAILABLE',
  'TOPUP_AMOUNT_OUT_OF_RANGE',
  'PAYMENT_PROVIDER_ERROR',
  'RESET_TOKEN_INVALID',
  'SIGNUP_CLOSED',
  'ACCOUNT_SUSPENDED',
  'ACCOUNT_DELETED',
  'BALANCE_NOT_ZERO',
  'EMAIL_NOT_VERIFIED',
  'EMAIL_LINK_INVALID',
  'OPERATOR_EXISTS',
  'LAST_OWNER',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  /** HTTP status when the error is raised as a top-level GraphQL error. */
  readonly httpStatus: number = 200;
}

export class PoolExhaustedError extends DomainError {
  readonly code = 'POOL_EXHAUSTED';
  constructor() {
    super('No VM is free in the pool right now. Try again later or ask an operator to add capacity.');
  }
}

export class QuotaExceededError extends DomainError {
  readonly code = 'QUOTA_EXCEEDED';
  constructor(
    message: string,
    readonly vmQuota: number,
    readonly activeAllocations: number,
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} was not found`);
  }
}

/** A VM needs an active plan period: none was ever set, or it has ended. */
export class NoActivePlanError extends DomainError {
  readonly code = 'NO_ACTIVE_PLAN';
  constructor(readonly periodEnd: Date | null) {
    super(
      periodEnd
        ? `Your plan period ended on ${formatUtcMinute(periodEnd)}: renew it or buy a plan on the Plans page, then allocate a VM again.`
        : 'You have no active plan: buy a plan (or ask an operator for a quota) to get a VM.',
    );
  }
}

/** Auto-renew renews the last purchased plan: a user who never bought one has nothing to renew. */
export class NoPlanToRenewError extends DomainError {
  readonly code = 'NO_PLAN_TO_RENEW';
  constructor() {
    super('You have not bought a plan yet: buy one first, then auto-renew can renew it.');
  }
}

/** Usage took the balance below zero: no new VM until credit is added. */
export class BalanceNegativeError extends DomainError {
  readonly code = 'BALANCE_NEGATIVE';
  constructor(
    readonly balanceCents: number,
    readonly currency: string,
  ) {
    super(
      `Your balance is ${(balanceCents / 100).toFixed(2)} ${currency}: add credit to bring it back to zero or above before getting a new VM.`,
    );
  }
}

/** The allocation was released: its end can no longer change. */
export class AllocationNotActiveError extends DomainError {
  readonly code = 'ALLOCATION_NOT_ACTIVE';
  constructor(readonly allocationId: string) {
    super(`Allocation ${allocationId} was released: only an ACTIVE allocation can be extended`);
  }
}

export interface Problem {
  /** Where the problem is, e.g. `pool[2].cockpitUrl`; empty for the input as a whole. */
  path: string;
  message: string;
}

export class ValidationError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly problems: Problem[],
    summary = 'The input is invalid',
  ) {
    super(`${summary}: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`);
  }
}

/** Parses input with a zod schema; every problem becomes a ValidationError with its path. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, summary: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    summary,
  );
}

/** The operation needs a provisioner this api does not run; the message says what to set. */
export class ProvisionerUnavailableError extends DomainError {
  readonly code = 'PROVISIONER_UNAVAILABLE';
  override readonly httpStatus = 503;
  constructor(
    message = 'No provisioner is configured: VM pool operations are unavailable. Set VM_POOL_FILE (a pool manifest file) or VM_POOL_JSON for the pool provisioner, or PROVISIONER_DEMO=1 for fabricated demo VMs, and restart the api.',
  ) {
    super(message);
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  override readonly httpStatus = 401;
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  override readonly httpStatus = 403;
}

/**
 * A valid admin credential whose role lacks the right: FORBIDDEN too, but the session stays
 * good (the web keeps it, unlike a revoked or outdated one). `role` reaches the caller in the
 * error's extensions.
 */
export class RoleForbiddenError extends ForbiddenError {
  constructor(
    readonly role: string,
    readonly needs: readonly string[],
  ) {
    super(`The role ${role} may not do this: it needs ${needs.join(' or ')}`);
  }
}

/** No database connection came free in time: the api is overloaded; retry shortly (HTTP 503). */
export class DatabaseBusyError extends DomainError {
  readonly code = 'DATABASE_BUSY';
  override readonly httpStatus = 503;
  constructor() {
    super('The database is busy: no connection came free in time. Nothing was changed; try again shortly.');
  }
}

/**
 * The database connection failed (a restart, a failover, a terminated backend), HTTP 503. A
 * transaction cut before its COMMIT was rolled back; one cut during the COMMIT may have been
 * applied, which is why payments carry a providerRef: a retry of an applied one is refused.
 */
export class DatabaseConnectionLostError extends DomainError {
  readonly code = 'DATABASE_UNAVAILABLE';
  override readonly httpStatus = 503;
  constructor() {
    super('The database connection failed during the request; try again shortly.');
  }
}

/** A job's run lock is held by another run (a worker tick, or another "run now"). */
export class JobAlreadyRunningError extends DomainError {
  readonly code = 'ALREADY_RUNNING';
  override readonly httpStatus = 409;
  constructor(readonly job: string) {
    super(
      `${job} is already running (a scheduled tick or another manual run holds its lock); try again when it is done`,
    );
  }
}

/** A manual job run that failed; the job-run row keeps the error too. */
export class JobFailedError extends DomainError {
  readonly code = 'JOB_FAILED';
  override readonly httpStatus = 500;
  constructor(
    readonly job: string,
    readonly runId: number,
    reason: string,
  ) {
    super(`${job} run ${runId} failed: ${reason}`);
  }
}

/** No billing repository is configured: aggregation is unavailable (HTTP 503). */
export class UsageSourceUnavailableError extends DomainError {
  readonly code = 'USAGE_SOURCE_UNAVAILABLE';
  override readonly httpStatus = 503;
  constructor() {
    super(
      'No usage source is configured: set USAGE_SOURCE=git with BILLING_GIT_URL, or USAGE_SOURCE=forge with FORGE_URL, FORGE_TOKEN and BILLING_REPO',
    );
  }
}

/** The balance does not cover a purchase; nothing was changed. */
export class InsufficientCreditError extends DomainError {
  readonly code = 'INSUFFICIENT_CREDIT';
  constructor(
    readonly balanceCents: number,
    readonly priceCents: number,
    readonly currency: string,
  ) {
    super(
      `Your balance of ${balanceCents} cents ${currency} does not cover the price of ${priceCents} cents: add credit first`,
    );
  }
}

/** Money in another currency than the user's billing currency; never converted. */
export class CurrencyMismatchError extends DomainError {
  readonly code = 'CURRENCY_MISMATCH';
  constructor(
    readonly expected: string,
    readonly received: string,
  ) {
    super(
      `The user's balance is kept in ${expected}; an amount in ${received} is refused (no conversion is made)`,
    );
  }
}

/** A payment with this provider reference was recorded already. */
export class DuplicatePaymentError extends DomainError {
  readonly code = 'DUPLICATE_PAYMENT';
  constructor(
    readonly provider: string,
    readonly providerRef: string,
    readonly paymentId: string,
  ) {
    super(
      `Payment ${provider}/${providerRef} was recorded already (payment ${paymentId}); it is not applied twice`,
    );
  }
}

/** A refund larger than what is left of the payment (or of a payment refunded in full). */
export class RefundExceedsPaymentError extends DomainError {
  readonly code = 'REFUND_EXCEEDS_PAYMENT';
  constructor(
    readonly paymentId: string,
    readonly refundableCents: number,
    requestedCents: number,
  ) {
    super(
      refundableCents === 0
        ? `Payment ${paymentId} is refunded in full already`
        : `Payment ${paymentId} has ${refundableCents} cents left to refund; ${requestedCents} cents is more than that`,
    );
  }
}

/** Sign-up with an email that belongs to a user already. */
export class EmailTakenError extends DomainError {
  readonly code = 'EMAIL_TAKEN';
  constructor(
    message = 'An account with this email exists already: sign in, or if an operator created it, use the invitation link from your email or "Forgot password?"',
  ) {
    super(message);
  }
}

/**
 * Sign-in refused: unknown email, no password set, wrong password or wrong admin secret. One
 * message for all of them, so the answer does not tell which.
 */
export class InvalidCredentialsError extends DomainError {
  readonly code = 'INVALID_CREDENTIALS';
  constructor(message = 'The email or the password is wrong') {
    super(message);
  }
}

/** Too many sign-in attempts for this email or from this address in the current window. */
export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many attempts: try again in ${retryAfterSeconds} seconds`);
  }
}

/** Self-serve top-up is not configured (no STRIPE_SECRET_KEY): operators record payments by hand. */
export class TopUpUnavailableError extends DomainError {
  readonly code = 'TOPUP_UNAVAILABLE';
  constructor() {
    super('Adding credit online is not available here: ask an operator to record your payment.');
  }
}

/** A top-up amount that is not whole cents within TOPUP_MIN_CENTS … TOPUP_MAX_CENTS; nothing was started. */
export class TopUpAmountError extends DomainError {
  readonly code = 'TOPUP_AMOUNT_OUT_OF_RANGE';
  constructor(
    readonly amountCents: number,
    readonly minCents: number,
    readonly maxCents: number,
    readonly currency: string,
  ) {
    const money = (cents: number) => `${(cents / 100).toFixed(2)} ${currency}`;
    super(`The amount must be between ${money(minCents)} and ${money(maxCents)}, in whole cents.`);
  }
}

/**
 * The payment provider (Stripe) refused the request or could not be reached; nothing was charged.
 * The provider's own message stays in the logs: it may name keys or settings.
 */
export class PaymentProviderError extends DomainError {
  readonly code = 'PAYMENT_PROVIDER_ERROR';
  constructor(
    /** The provider's error code (e.g. `amount_too_small`), when it gave one. */
    readonly providerCode: string | null,
    /** Trying again later may work (a connection or server error, a rate limit). */
    readonly retryable: boolean,
  ) {
    super(
      retryable
        ? 'The payment provider could not be reached. Nothing was charged; try again in a moment.'
        : 'The payment provider refused the request. Nothing was charged; try again later or ask an operator.',
    );
  }
}

/** A password reset link that is unknown, used already, or expired; nothing was changed. */
export class ResetTokenInvalidError extends DomainError {
  readonly code = 'RESET_TOKEN_INVALID';
  constructor() {
    super('This password reset link is invalid, used already or expired: ask for a new one');
  }
}

/** Sign-up is not open here (SIGNUP_MODE `closed`, or `invite`: accounts come by invitation only). */
export class SignupClosedError extends DomainError {
  readonly code = 'SIGNUP_CLOSED';
  constructor(readonly mode: 'invite' | 'closed') {
    super(
      mode === 'invite'
        ? 'Sign-up is by invitation only: ask an operator for an account, then follow the link in the invitation email'
        : 'Sign-up is closed here: ask an operator for an account',
    );
  }
}

/** An operator suspended the account: no sign-in, no new VM, until it is unsuspended. */
export class AccountSuspendedError extends DomainError {
  readonly code = 'ACCOUNT_SUSPENDED';
  constructor() {
    super('This account is suspended: ask an operator (your data and balance are kept).');
  }
}

/** The account was deleted: its row is a tombstone that nothing changes any more. */
export class AccountDeletedError extends DomainError {
  readonly code = 'ACCOUNT_DELETED';
  constructor(readonly userId: string) {
    super(`User ${userId} was deleted: a deleted account cannot be changed`);
  }
}

/** Deleting an account that still holds credit needs `force` (the credit stays on its ledger). */
export class BalanceNotZeroError extends DomainError {
  readonly code = 'BALANCE_NOT_ZERO';
  constructor(
    readonly balanceCents: number,
    readonly currency: string,
  ) {
    super(
      `The account still holds ${(balanceCents / 100).toFixed(2)} ${currency}: refund it first, or delete with force (the credit then stays on the deleted account's ledger)`,
    );
  }
}

/** Paying and getting a VM wait until the account's email is verified (SIGNUP_VERIFY_EMAIL). */
export class EmailNotVerifiedError extends DomainError {
  readonly code = 'EMAIL_NOT_VERIFIED';
  constructor() {
    super(
      'Verify your email address first: open the link we emailed you (or ask for a new one on your dashboard). Until then you cannot pay or get a VM.',
    );
  }
}

/** An email verification or email change link that is unknown, used already or expired; nothing changed. */
export class EmailLinkInvalidError extends DomainError {
  readonly code = 'EMAIL_LINK_INVALID';
  constructor() {
    super('This email link is invalid, used already or expired: ask for a new one');
  }
}

/** An operator with this email exists already. */
export class OperatorExistsError extends DomainError {
  readonly code = 'OPERATOR_EXISTS';
  constructor() {
    super('An operator with this email exists already');
  }
}

/** The change would leave no owner: someone must always be able to manage operators. */
export class LastOwnerError extends DomainError {
  readonly code = 'LAST_OWNER';
  constructor() {
    super('This is the last owner: make another operator owner first');
  }
}
