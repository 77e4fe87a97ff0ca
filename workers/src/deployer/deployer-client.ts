import type { Dispatcher } from 'undici';
import { bodyExcerpt, HttpCallError, postJson } from '../http/post-json.ts';

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
export class DeployerError extends HttpCallError {
  constructor(message: string, status: number | null = null) {
    super(message, status);
    this.name = 'DeployerError';
  }
}

export { bodyExcerpt };

export interface DeployerClient {
  readonly baseUrl: string;
  /** Throws DeployerError unless the deployer answers 2xx. */
  releaseVm(body: ReleaseVmRequest, options: CallOptions): Promise<{ status: number }>;
}

export function createDeployerClient(options: DeployerClientOptions): DeployerClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  const post = (path: string, payload: unknown, call: CallOptions) =>
    postJson(`${baseUrl}${path}`, payload, {
      what: `deployer POST ${path}`,
      token: options.token,
      timeoutMs: options.timeoutMs,
      idempotencyKey: call.idempotencyKey,
      signal: call.signal,
      dispatcher: options.dispatcher,
      makeError: (message, status) => new DeployerError(message, status),
    });

  return {
    baseUrl,
    releaseVm: (body, call) => post('/admin/release-vm', body, call),
  };
}
