import { type Dispatcher, request } from 'undici';

/** An outgoing JSON call that did not get a 2xx answer; its message never contains the token. */
export class HttpCallError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when an answer came. */
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'HttpCallError';
  }
}

const EXCERPT_CHARS = 200;

/** The first characters of an answer body, on one line, for an error message. */
export function bodyExcerpt(text: string, max = EXCERPT_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export interface PostJsonOptions {
  /** For error messages, e.g. `deployer POST /admin/release-vm`. */
  what: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Whole-request bound: connect, headers and body. */
  timeoutMs: number;
  /** Sent as `idempotency-key`: the receiver may see a call twice (a retry after a lost answer). */
  idempotencyKey: string;
  /** More headers, made from the exact body sent (e.g. its signature). */
  headersFor?: (body: string) => Record<string, string>;
  /** Aborts the call (e.g. on shutdown); the timeout applies in any case. */
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** The error to throw; default HttpCallError. */
  makeError?: (message: string, status: number | null) => Error;
}

/** POSTs `payload` as JSON; resolves with the status of a 2xx answer, throws otherwise. */
export async function postJson(
  url: string,
  payload: unknown,
  options: PostJsonOptions,
): Promise<{ status: number }> {
  const { what } = options;
  const fail = options.makeError ?? ((message, status) => new HttpCallError(message, status));
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'idempotency-key': options.idempotencyKey,
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = JSON.stringify(payload);
  if (options.headersFor) Object.assign(headers, options.headersFor(body));
  let answered: { status: number; excerpt: string } | null = null;
  try {
    const res = await request(url, {
      method: 'POST',
      headers,
      body,
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      return { status: res.statusCode };
    }
    const text = await res.body.text().catch(() => '');
    answered = { status: res.statusCode, excerpt: bodyExcerpt(text) };
  } catch (err) {
    if (timeout.aborted) throw fail(`${what} timed out after ${options.timeoutMs} ms`, null);
    if (options.signal?.aborted) throw fail(`${what} aborted (shutting down)`, null);
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    throw fail(`${what} failed: ${code && !message.includes(code) ? `${code} ` : ''}${message}`, null);
  }
  throw fail(
    `${what} answered HTTP ${answered.status}${answered.excerpt ? `: ${answered.excerpt}` : ''}`,
    answered.status,
  );
}
