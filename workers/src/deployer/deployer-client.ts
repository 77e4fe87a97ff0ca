import { type Dispatcher, request } from 'undici';

/** Body of `POST /admin/release-vm`, as the deployer names its fields. */
export interface ReleaseVmRequest {
  pool_vm_id: string;
  allocation_id: string;
  user_id: string;
  reason: string | null;
  released_at: string | null;
}

export interface DeployerClientOptions {
  /** DEPLOYER_URL; a path prefix is kept (`https://ops.example/deployer` → `…/deployer/admin/release-vm`). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Whole-request bound: connect, headers and body. */
  timeoutMs: number;
  /** For tests or a proxy; default undici's global dispatcher. */
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  /** Sent as `idempotency-key`: the deployer may see a call twice (a retry after a lost answer). */
  idempotencyKey: string;
  /** Aborts the call (e.g. on shutdown); the timeout applies in any case. */
  signal?: AbortSignal;
}

/** A deployer call that did not get a 2xx answer; its message never contains the token. */
export class DeployerError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when an answer came. */
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'DeployerError';
  }
}

const EXCERPT_CHARS = 200;

/** The first characters of an answer body, on one line, for an error message. */
export function bodyExcerpt(text: string, max = EXCERPT_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export interface DeployerClient {
  readonly baseUrl: string;
  /** Throws DeployerError unless the deployer answers 2xx. */
  releaseVm(body: ReleaseVmRequest, options: CallOptions): Promise<{ status: number }>;
}

export function createDeployerClient(options: DeployerClientOptions): DeployerClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  async function post(path: string, payload: unknown, call: CallOptions): Promise<{ status: number }> {
    const url = `${baseUrl}${path}`;
    const what = `deployer POST ${path}`;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'idempotency-key': call.idempotencyKey,
    };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
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
      const excerpt = bodyExcerpt(text);
      throw new DeployerError(
        `${what} answered HTTP ${res.statusCode}${excerpt ? `: ${excerpt}` : ''}`,
        res.statusCode,
      );
    } catch (err) {
      if (err instanceof DeployerError) throw err;
      if (timeout.aborted) throw new DeployerError(`${what} timed out after ${options.timeoutMs} ms`);
      if (call.signal?.aborted) throw new DeployerError(`${what} aborted (shutting down)`);
      const code = (err as { code?: string }).code;
      const message = err instanceof Error ? err.message : String(err);
      throw new DeployerError(
        `${what} failed: ${code && !message.includes(code) ? `${code} ` : ''}${message}`,
      );
    }
  }

  return {
    baseUrl,
    releaseVm: (body, call) => post('/admin/release-vm', body, call),
  };
}
