import { UsageError } from './errors.ts';

/**
 * Option values that several commands parse alike (dates, amounts, counts). Each failure is a
 * UsageError naming the option, raised before any request is made.
 */

/** An ISO 8601 date-time with its offset (`2026-12-24T18:00:00Z`): a bare date or time is ambiguous. */
export function dateTime(flag: string, value: string): string {
  const text = value.trim();
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text) ||
    Number.isNaN(Date.parse(text))
  )
    throw new UsageError(
      `--${flag} must be an ISO 8601 date-time with its offset, e.g. 2026-12-24T18:00:00Z (got "${value}")`,
    );
  return new Date(text).toISOString();
}

/**
 * An amount of money on the command line: integer cents (minor units), a whole number >= 1.
 * `12.50`, `1e3`, `-5`, `0` and `+5` are refused before any request is made.
 */
export function amountCents(flag: string, value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || !Number.isSafeInteger(n))
    throw new UsageError(
      `--${flag} must be a whole positive number of cents, e.g. 1250 for 12.50 (got "${value}")`,
    );
  return n;
}

/**
 * A signed amount of cents, not 0 (a correction either way): `500` credits, `-500` debits, by the
 * rule of `amountCents` otherwise. On the command line a negative one is written `--flag=-500`.
 */
export function signedAmountCents(flag: string, value: string): number {
  const negative = value.startsWith('-');
  const digits = negative ? value.slice(1) : value;
  const n = Number(digits);
  if (!/^[0-9]+$/.test(digits) || n < 1 || !Number.isSafeInteger(n))
    throw new UsageError(
      `--${flag} must be a whole number of cents, not 0, negative for a debit, e.g. 1250 or -1250 (got "${value}")`,
    );
  return negative ? -n : n;
}

/** A whole number >= 0 (a count that may be none, such as a VM quota). */
export function wholeNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n))
    throw new UsageError(`--${flag} must be a whole number, 0 or more (got "${value}")`);
  return n;
}
