import {
  countAttempt,
  ipBucket,
  type RateLimitBucket,
  retryAfterWhenLimited,
} from '@hero/core/auth/rate-limit';
import { secretsEqual } from '@hero/core/auth/tokens';
import { RateLimitedError } from '@hero/core/errors';
import type { Logger } from '@hero/core/lib/logger';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Plugin } from 'graphql-yoga';
import { clientIpOf, type ProxyMatcher } from './client-ip.ts';
import type { ServerContext } from './context.ts';
import { basicAuthPassword } from './graphql-hardening.ts';

export interface AdminSecretLimitDeps {
  em: EntityManager;
  adminSecret: string;
  /** Per client address and window (AUTH_RATE_LIMIT_IP): the bucket sign-in attempts count in too. */
  limit: number;
  trustedProxies: ProxyMatcher;
  /** Whether HTTP Basic with the admin secret opens anything (introspection mode `admin`), so guessing it pays. */
  basicCounts: boolean;
  log: Logger;
}

/** The admin secret a request presents: x-admin-secret, else (when it counts) HTTP Basic's password. */
function presentedSecret(headers: Headers, basicCounts: boolean): string | null {
  const header = headers.get('x-admin-secret');
  if (header) return header;
  if (!basicCounts) return null;
  return basicAuthPassword(headers.get('authorization')) || null;
}

export function rateLimitedResponse(fetchAPI: { Response: typeof Response }, retryAfter: number): Response {
  const error = new RateLimitedError(retryAfter);
  return new fetchAPI.Response(
    JSON.stringify({
      errors: [{ message: error.message, extensions: { code: error.code, retryAfterSeconds: retryAfter } }],
    }),
    {
      status: 429,
      headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(retryAfter) },
    },
  );
}

export interface AdminSecretLimiter {
  /** Seconds to wait when this request must answer 429, else 0; counted once per request. */
  retryAfter(request: Request, serverContext: ServerContext | undefined): Promise<number>;
  /** Answers 429 (with Retry-After) before anything else runs. */
  plugin: Plugin<object, ServerContext>;
}

/**
 * Wrong admin secrets (the x-admin-secret header, and HTTP Basic where it opens GraphiQL) count
 * as attempts of the client's address, in the bucket adminSignIn and sign-in use. Over the limit
 * the request answers 429 with Retry-After before anything runs; so does the right secret from
 * that address until the window ends (as adminSignIn does: a guess that happens to be right
 * must not be told apart). The right secret costs one primary-key read; other addresses are not
 * affected. Admin session tokens are not secrets one can guess and are not counted.
 */
export function adminSecretLimiter(deps: AdminSecretLimitDeps): AdminSecretLimiter {
  const known = new WeakMap<Request, Promise<number>>();

  async function check(request: Request, serverContext: ServerContext | undefined): Promise<number> {
    const secret = presentedSecret(request.headers, deps.basicCounts);
    if (secret === null) return 0;
    const ip = clientIpOf(
      serverContext?.req?.socket.remoteAddress,
      request.headers.get('x-forwarded-for'),
      deps.trustedProxies,
    );
    // Attempts from an unknown address share one bucket, as in sessions.ts.
    const bucket: RateLimitBucket = { bucket: ipBucket(ip ?? 'unknown'), limit: deps.limit };
    try {
      if (secretsEqual(secret, deps.adminSecret)) return await retryAfterWhenLimited(deps.em, bucket);
      await countAttempt(deps.em, [bucket]);
      return 0;
    } catch (err) {
      if (err instanceof RateLimitedError) {
        deps.log.debug({ ip, retryAfter: err.retryAfterSeconds }, 'admin secret attempts rate-limited');
        return err.retryAfterSeconds;
      }
      // Without the database the request fails on its own; the limit is not the place to say so.
      deps.log.warn({ err }, 'admin secret rate limit not checked: the database did not answer');
      return 0;
    }
  }

  const retryAfter = (request: Request, serverContext: ServerContext | undefined) => {
    let answer = known.get(request);
    if (!answer) {
      answer = check(request, serverContext);
      known.set(request, answer);
    }
    return answer;
  };

  return {
    retryAfter,
    plugin: {
      onRequest({ request, serverContext, endResponse, fetchAPI }) {
        // Synchronous without a secret (nearly every request): no promise for yoga to wait on.
        if (!known.has(request) && presentedSecret(request.headers, deps.basicCounts) === null) return;
        return retryAfter(request, serverContext).then((seconds) => {
          if (seconds > 0) endResponse(rateLimitedResponse(fetchAPI, seconds));
        });
      },
    },
  };
}
