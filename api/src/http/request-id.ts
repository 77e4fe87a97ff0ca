import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The header a request id travels in, both ways. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** An incoming id is kept when it is this safe: short, and nothing a log line or a header could trip on. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is safe (≤ 128 of `[A-Za-z0-9._:-]`), else a new random UUID. */
export function requestIdFrom(incoming: string | string[] | null | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value !== undefined && value !== null && SAFE_REQUEST_ID.test(value) ? value : randomUUID();
}

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` (an HTTP request's handling) with `requestId` as the current request id. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return scope.run(requestId, fn);
}

/** The request id of the request being handled (for code that is handed no context, e.g. error masking). */
export function currentRequestId(): string | undefined {
  return scope.getStore();
}
