/**
 * Errors of the CLI and how API answers and transport failures become one line for a person.
 * Exit codes: 1 for failures, 2 for usage errors.
 */

export class CliError extends Error {
  constructor(
    message: string,
    /** Extra lines printed after the message (e.g. one per validation problem). */
    readonly details: string[] = [],
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, [], 2);
    this.name = 'UsageError';
  }
}

export interface GraphQLErrorBody {
  message?: unknown;
  extensions?: { code?: unknown };
}

const MAX_SNIPPET = 200;

/** Control characters (ANSI escapes, newlines) from an answer are shown escaped, never sent to the terminal. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n' || c === '\r' || c === '\t') return ' ';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function snippet(text: string): string {
  const flat = printable(text.trim()).replace(/\s+/g, ' ');
  return flat.length > MAX_SNIPPET ? `${flat.slice(0, MAX_SNIPPET)}…` : flat;
}

/**
 * The error for a GraphQL answer carrying top-level `errors` (or an HTTP error status). The
 * admin-secret and lock cases get a sentence of their own; anything else is `CODE: message`.
 */
export function errorFromGraphQL(status: number, errors: GraphQLErrorBody[]): CliError {
  const items = errors.map((e) => ({
    code: typeof e.extensions?.code === 'string' ? e.extensions.code : undefined,
    message: typeof e.message === 'string' ? printable(e.message) : 'no message',
  }));
  const codes = new Set(items.map((i) => i.code));
  const first = items[0] ?? { code: undefined, message: `HTTP ${status}` };
  if (codes.has('FORBIDDEN') || (status === 403 && !first.code))
    return new CliError('forbidden: the API refused the admin secret (wrong ADMIN_SECRET?)');
  if (codes.has('UNAUTHENTICATED') || (status === 401 && !first.code)) {
    const which = items.find((i) => i.code === 'UNAUTHENTICATED') ?? first;
    return new CliError(`unauthenticated: ${which.message}`);
  }
  // The API names the job: "<job> is already running (…); try again when it is done".
  if (codes.has('ALREADY_RUNNING'))
    return new CliError((items.find((i) => i.code === 'ALREADY_RUNNING') ?? first).message);
  const text = [...new Set(items.map((i) => (i.code ? `${i.code}: ${i.message}` : i.message)))].join('; ');
  if (codes.has('GRAPHQL_VALIDATION_FAILED'))
    return new CliError(`${text} (is the API older than this CLI?)`);
  return new CliError(items.some((i) => i.code) ? text : `GraphQL error: ${text}`);
}

/** The error for an answer that is not a GraphQL response at all (a proxy page, a 404…). */
export function unexpectedAnswer(url: string, status: number, body: string): CliError {
  const rest = body.trim() ? `: ${snippet(body)}` : '';
  return new CliError(`unexpected answer from the API at ${url}: HTTP ${status}${rest}`);
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the api running?)',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'DNS lookup failed (temporary failure)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'the connection closed before the answer was complete',
};

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** A transport failure (refused, DNS, timeout…) as `cannot reach the API at <url>: <reason>`. */
export function transportError(url: string, err: unknown, timeoutMs: number): CliError {
  const e = err as { name?: string; code?: unknown; message?: string; errors?: { code?: unknown }[] };
  const code = String(e?.code ?? e?.errors?.[0]?.code ?? '');
  let reason: string;
  // AbortSignal.timeout() rejects with a DOMException named TimeoutError.
  if (e?.name === 'TimeoutError' || TIMEOUT_CODES.has(code))
    reason = `no answer within ${timeoutMs} ms (HERO_API_TIMEOUT_MS)`;
  else if (REASONS[code]) reason = REASONS[code];
  else if (/CERT|SSL|TLS|SELF_SIGNED/.test(code)) reason = `TLS: ${e.message ?? code}`;
  else reason = [code, e?.message ?? String(err)].filter(Boolean).join(': ');
  return new CliError(`cannot reach the API at ${url}: ${printable(reason)}`);
}
