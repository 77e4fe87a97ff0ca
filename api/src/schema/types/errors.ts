import {
  AccountDeletedError,
  AccountSuspendedError,
  AllocationNotActiveError,
  BalanceNegativeError,
  BalanceNotZeroError,
  CurrencyMismatchError,
  type DomainError,
  DuplicatePaymentError,
  EmailNotVerifiedError,
  EmailTakenError,
  ERROR_CODES,
  InsufficientCreditError,
  InvalidCredentialsError,
  NoActivePlanError,
  NoPlanToRenewError,
  NotFoundError,
  PaymentProviderError,
  PoolExhaustedError,
  type Problem,
  QuotaExceededError,
  RateLimitedError,
  RefundExceedsPaymentError,
  TopUpAmountError,
  TopUpUnavailableError,
  ValidationError,
} from '@hero/core/errors';
import { builder } from '../builder.ts';

export const ErrorCodeEnum = builder.enumType('ErrorCode', { values: ERROR_CODES });

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'Every error a result union can return: a human message and a stable code.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.field({ type: ErrorCodeEnum, resolve: (e) => e.code }),
  }),
});

const ProblemType = builder.objectRef<Problem>('Problem').implement({
  description: 'One problem with the input; `path` says where (e.g. `pool[2].cockpitUrl`).',
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

builder.objectType(PoolExhaustedError, {
  name: 'PoolExhaustedError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof PoolExhaustedError,
});

builder.objectType(QuotaExceededError, {
  name: 'QuotaExceededError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof QuotaExceededError,
  fields: (t) => ({
    vmQuota: t.exposeInt('vmQuota'),
    activeAllocations: t.exposeInt('activeAllocations'),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotFoundError,
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'BAD_USER_INPUT: the input was refused whole; every problem is listed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ValidationError,
  fields: (t) => ({ problems: t.field({ type: [ProblemType], resolve: (e) => e.problems }) }),
});

builder.objectType(InsufficientCreditError, {
  name: 'InsufficientCreditError',
  description: 'INSUFFICIENT_CREDIT: the balance does not cover the price; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof InsufficientCreditError,
  fields: (t) => ({
    balanceCents: t.expose('balanceCents', { type: 'SafeInt' }),
    priceCents: t.expose('priceCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
  }),
});

builder.objectType(CurrencyMismatchError, {
  name: 'CurrencyMismatchError',
  description: "CURRENCY_MISMATCH: an amount in another currency than the user's balance; never converted.",
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof CurrencyMismatchError,
  fields: (t) => ({ expected: t.exposeString('expected'), received: t.exposeString('received') }),
});

builder.objectType(DuplicatePaymentError, {
  name: 'DuplicatePaymentError',
  description: 'DUPLICATE_PAYMENT: this provider reference was recorded already; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof DuplicatePaymentError,
  fields: (t) => ({ paymentId: t.exposeID('paymentId') }),
});

builder.objectType(RefundExceedsPaymentError, {
  name: 'RefundExceedsPaymentError',
  description:
    'REFUND_EXCEEDS_PAYMENT: more than what is left of the payment to refund; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof RefundExceedsPaymentError,
  fields: (t) => ({
    paymentId: t.exposeID('paymentId'),
    refundableCents: t.expose('refundableCents', { type: 'SafeInt' }),
  }),
});

builder.objectType(EmailTakenError, {
  name: 'EmailTakenError',
  description:
    'EMAIL_TAKEN: an account with this email exists already (another account, for an email change); nothing was created or changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof EmailTakenError,
});

builder.objectType(EmailNotVerifiedError, {
  name: 'EmailNotVerifiedError',
  description:
    "EMAIL_NOT_VERIFIED: the account's email is not verified yet (SIGNUP_VERIFY_EMAIL), so it cannot pay or get a VM; nothing was changed. The link in the verification email (or a new one: resendEmailVerification) verifies it.",
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof EmailNotVerifiedError,
});

builder.objectType(InvalidCredentialsError, {
  name: 'InvalidCredentialsError',
  description:
    'INVALID_CREDENTIALS: the email/password pair (or the admin secret) is wrong. The same answer whether the email is unknown, has no password, or the password is wrong.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof InvalidCredentialsError,
});

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  description:
    'RATE_LIMITED: too many sign-in attempts for this email or from this address in the current 15-minute window; nothing was checked.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof RateLimitedError,
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds', { description: 'When the window ends.' }),
  }),
});

builder.objectType(AllocationNotActiveError, {
  name: 'AllocationNotActiveError',
  description: 'ALLOCATION_NOT_ACTIVE: the allocation was released; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof AllocationNotActiveError,
  fields: (t) => ({ allocationId: t.exposeID('allocationId') }),
});

builder.objectType(NoActivePlanError, {
  name: 'NoActivePlanError',
  description:
    'NO_ACTIVE_PLAN: a VM needs an active plan period; `periodEnd` is when the last one ended (null: never had one).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NoActivePlanError,
  fields: (t) => ({ periodEnd: t.expose('periodEnd', { type: 'DateTime', nullable: true }) }),
});

builder.objectType(NoPlanToRenewError, {
  name: 'NoPlanToRenewError',
  description: 'NO_PLAN_TO_RENEW: auto-renew renews the last plan bought, and none was; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NoPlanToRenewError,
});

builder.objectType(BalanceNegativeError, {
  name: 'BalanceNegativeError',
  description: 'BALANCE_NEGATIVE: usage took the balance below zero; add credit before getting a new VM.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof BalanceNegativeError,
  fields: (t) => ({
    balanceCents: t.expose('balanceCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
  }),
});

builder.objectType(TopUpUnavailableError, {
  name: 'TopUpUnavailableError',
  description:
    'TOPUP_UNAVAILABLE: self-serve top-up is not configured (no STRIPE_SECRET_KEY); operators record payments.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof TopUpUnavailableError,
});

builder.objectType(TopUpAmountError, {
  name: 'TopUpAmountError',
  description:
    'TOPUP_AMOUNT_OUT_OF_RANGE: the amount is not whole cents within TOPUP_MIN_CENTS … TOPUP_MAX_CENTS; nothing was started.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof TopUpAmountError,
  fields: (t) => ({
    minCents: t.expose('minCents', { type: 'SafeInt' }),
    maxCents: t.expose('maxCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
  }),
});

builder.objectType(PaymentProviderError, {
  name: 'PaymentProviderError',
  description:
    "PAYMENT_PROVIDER_ERROR: Stripe refused the request or could not be reached; nothing was charged. The provider's message is in the api's log.",
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof PaymentProviderError,
  fields: (t) => ({
    providerCode: t.exposeString('providerCode', {
      nullable: true,
      description: "Stripe's error code (e.g. `amount_too_small`), when it gave one.",
    }),
    retryable: t.exposeBoolean('retryable', { description: 'Trying again in a moment may work.' }),
  }),
});

builder.objectType(AccountSuspendedError, {
  name: 'AccountSuspendedError',
  description:
    'ACCOUNT_SUSPENDED: an operator suspended the account; no sign-in and no new VM until it is unsuspended (sign-in says so only after the right password).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof AccountSuspendedError,
});

builder.objectType(AccountDeletedError, {
  name: 'AccountDeletedError',
  description: 'ACCOUNT_DELETED: the account was deleted (a tombstone); nothing changes it any more.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof AccountDeletedError,
  fields: (t) => ({ userId: t.exposeID('userId') }),
});

builder.objectType(BalanceNotZeroError, {
  name: 'BalanceNotZeroError',
  description:
    "BALANCE_NOT_ZERO: the account still holds credit; refund it first, or delete with `force` (the credit stays on the deleted account's ledger). Nothing was changed.",
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof BalanceNotZeroError,
  fields: (t) => ({
    balanceCents: t.expose('balanceCents', { type: 'SafeInt' }),
    currency: t.exposeString('currency'),
  }),
});
