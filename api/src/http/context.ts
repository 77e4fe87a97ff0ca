import type { IncomingMessage } from 'node:http';
import { userIdForApiToken } from '@hero/core/auth/api-tokens';
import type { OidcSettings } from '@hero/core/auth/oidc';
import type { AuthSettings, ClientInfo, SignupMode } from '@hero/core/auth/sessions';
import { findLiveSession, type SessionOperator } from '@hero/core/auth/sessions';
import { hashToken, secretsEqual, tokenKind } from '@hero/core/auth/tokens';
import type { TopUpCheckout } from '@hero/core/billing/checkout';
import type { CreditPolicy } from '@hero/core/billing/credit-policy';
import type { PlanCatalog } from '@hero/core/billing/plans';
import type { Logger } from '@hero/core/lib/logger';
import type { Mailer } from '@hero/core/mail/mailer';
import type { OperatorRole } from '@hero/core/operators/roles';
import type { Provisioner } from '@hero/core/provisioners/provisioner';
import type { ForgeLinks } from '@hero/core/usage/sources/source-config';
import type { UsageSource } from '@hero/core/usage/sources/usage-source';
import type { SignupTrial } from '@hero/core/users/signup-trial';
import type { EntityManager } from '@mikro-orm/postgresql';
import { clientIpOf, type ProxyMatcher } from './client-ip.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.ts';

/** What a credential in the request amounts to. */
export type CredentialState = 'missing' | 'invalid' | 'valid';

/** Settings the resolvers need, from the api's configuration. */
export interface ApiSettings {
  /** An ACTIVE allocation this close to its end is `expiringSoon` (EXPIRY_WARNING_HOURS). */
  expiryWarningHours: number;
  /** When a balance is low, and the grace of a negative one (LOW_BALANCE_*, NEGATIVE_BALANCE_GRACE_HOURS). */
  creditPolicy: CreditPolicy;
  /** Usage records per apply transaction (aggregateNow). */
  aggregateBatchSize: number;
  /** New users' billing currency (DEFAULT_CURRENCY). */
  defaultCurrency: string;
  /** Who may sign up (SIGNUP_MODE). */
  signupMode: SignupMode;
  /** New sign-ups start unverified and are mailed a verification link (SIGNUP_VERIFY_EMAIL). */
  signupVerifyEmail: boolean;
  /** What a new sign-up starts with (SIGNUP_TRIAL); null: no plan. */
  signupTrial: SignupTrial | null;
  /** The plans users can buy (PLANS_JSON / PLANS_FILE). */
  plans: PlanCatalog;
  /** Links into the billing repository on the forge (statements' usage origins); null: no forge. */
  forgeLinks: ForgeLinks | null;
  /** Session lifetime and sign-in rate limits (SESSION_TTL_HOURS, AUTH_RATE_LIMIT_EMAIL / _IP). */
  auth: AuthSettings;
  /** Reset links and their rate limits (WEB_PUBLIC_URL, PASSWORD_RESET_RATE_LIMIT_EMAIL). */
  passwordReset: { webUrl: string; rateLimitEmail: number };
  /** The OpenID Connect issuer signInWithOidc accepts (OIDC_ISSUER_URL, OIDC_CLIENT_ID); null: none. */
  oidc: OidcSettings | null;
  /** Peers whose X-Forwarded-For is believed (TRUSTED_PROXIES): normalized addresses and CIDR networks. */
  trustedProxies: string[];
}

/** Who a valid bearer token belongs to (the user entity is loaded only where a resolver needs it). */
export interface AuthenticatedUser {
  id: string;
}

/** The yoga server context: the node request the GraphQL request came in on (none in-process). */
export interface ServerContext {
  req?: IncomingMessage;
}

export interface Context {
  /** Forked for this request (on first use); never the global EntityManager. */
  em: EntityManager;
  /** The api's root EntityManager, only for code that runs plain statements on its pool and
   * needs no unit of work (allocateVm): saves the fork. Its unit of work refuses to be used
   * (allowGlobalContext is off), so a mistake fails loudly. */
  rootEm: EntityManager;
  settings: ApiSettings;
  provisioner: Provisioner | null;
  /** The billing repository, or null when none is configured (aggregateNow answers 503). */
  usageSource: UsageSource | null;
  /** Self-serve top-up through Stripe Checkout; null without STRIPE_SECRET_KEY. */
  topUp: TopUpCheckout | null;
  admin: CredentialState;
  /** How the admin credential came: the x-admin-secret header, or an admin session token. */
  adminVia: 'secret' | 'session' | null;
  /** The operator whose session the bearer token names; null for the admin secret (break-glass). */
  operator: SessionOperator | null;
  /** The role the admin credential acts with: the operator's, or `owner` for the admin secret
   * and its sessions (break-glass); null without a valid admin credential. */
  adminRole: OperatorRole | null;
  user: AuthenticatedUser | null;
  userCredential: CredentialState;
  /** The live session the bearer token names (user or admin), for signOut. */
  sessionId: string | null;
  /** The request's x-request-id (request-id.ts); null in-process without one. */
  requestId: string | null;
  /** The client's address (TRUSTED_PROXIES decides whether X-Forwarded-For is believed). */
  clientIp: string | null;
  /** What sign-in records on a new session. */
  client: ClientInfo;
  /** For adminSignIn only: the secret a new admin session is bound to. Never log or return it. */
  adminSecret: string;
  loaders: Loaders;
  log: Logger;
  /** Where emails go (SMTP_URL, MAIL_DIR, or the log). */
  mailer: Mailer;
}

export interface ContextDeps {
  em: EntityManager;
  settings: ApiSettings;
  /** settings.trustedProxies as a matcher. */
  trustedProxies: ProxyMatcher;
  adminSecret: string;
  provisioner: Provisioner | null;
  usageSource: UsageSource | null;
  topUp: TopUpCheckout | null;
  log: Logger;
  mailer: Mailer;
}

/** Per request: what the lazy context members are made from, and what they made. */
interface LazyState {
  deps: ContextDeps;
  requestId: string | null;
  em?: EntityManager;
  loaders?: Loaders;
  log?: Logger;
}

const LAZY = Symbol('lazy context members');
type WithLazy = { [LAZY]: LazyState };

function lazyEm(state: LazyState): EntityManager {
  state.em ??= state.deps.em.fork();
  return state.em;
}

/** An assignment replaces the lazy member on whichever object holds it. */
const replaceWith = (key: string) =>
  function (this: object, value: unknown): void {
    Object.defineProperty(this, key, { value, enumerable: true, configurable: true, writable: true });
  };

/**
 * The members made on first use: most requests (an allocation, a token lookup) never touch the
 * unit of work, and a fork, two DataLoaders and a child logger per request are measurable CPU.
 * Module-level accessors (reading their state through `this`), so a request creates no
 * closures for them.
 */
const LAZY_MEMBERS: PropertyDescriptorMap = {
  em: {
    enumerable: true,
    configurable: true,
    get(this: WithLazy) {
      return lazyEm(this[LAZY]);
    },
    set: replaceWith('em'),
  },
  loaders: {
    enumerable: true,
    configurable: true,
    get(this: WithLazy) {
      const state = this[LAZY];
      state.loaders ??= createLoaders(lazyEm(state));
      return state.loaders;
    },
    set: replaceWith('loaders'),
  },
  log: {
    enumerable: true,
    configurable: true,
    get(this: WithLazy) {
      const state = this[LAZY];
      state.log ??= state.requestId ? state.deps.log.child({ requestId: state.requestId }) : state.deps.log;
      return state.log;
    },
    set: replaceWith('log'),
  },
};

/**
 * The request's context, built into `target` (yoga passes its own context object: answering a
 * new object would have yoga copy it with Object.assign, which reads every lazy member).
 */
export async function createContext(
  request: Request,
  deps: ContextDeps,
  server: ServerContext = {},
  target: object = {},
): Promise<Context> {
  // The HTTP server set a safe x-request-id on every request (request-id.ts); in-process callers may not.
  const incomingId = request.headers.get(REQUEST_ID_HEADER);
  const requestId = incomingId ? requestIdFrom(incomingId) : null;
  const state: LazyState = { deps, requestId };
  const adminHeader = request.headers.get('x-admin-secret');
  let admin: CredentialState =
    adminHeader === null || adminHeader === ''
      ? 'missing'
      : secretsEqual(adminHeader, deps.adminSecret)
        ? 'valid'
        : 'invalid';
  let adminVia: Context['adminVia'] = admin === 'missing' ? null : 'secret';

  let user: AuthenticatedUser | null = null;
  let userCredential: CredentialState = 'missing';
  let sessionId: string | null = null;
  let operator: SessionOperator | null = null;
  const authorization = request.headers.get('authorization');
  // HTTP Basic is GraphiQL's browser sign-in (introspection only, see graphql-hardening.ts), not a user credential.
  if (authorization && !/^Basic\s/i.test(authorization)) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const token = match?.[1];
    const kind = token ? tokenKind(token) : 'api';
    if (token && kind !== 'api') {
      const session = await findLiveSession(lazyEm(state), token, deps.adminSecret);
      if (kind === 'userSession') {
        if (session?.kind === 'USER') {
          user = { id: session.userId };
          sessionId = session.id;
        }
        userCredential = user ? 'valid' : 'invalid';
      } else if (session?.kind === 'ADMIN') {
        sessionId = session.id;
        operator = session.operator;
        admin = 'valid';
        adminVia = 'session';
      } else if (admin !== 'valid') {
        admin = 'invalid';
        adminVia = 'session';
      }
    } else {
      // Plain statement on the pool: needs no fork of its own.
      user = token ? await userIdForApiToken(deps.em, hashToken(token)) : null;
      userCredential = user ? 'valid' : 'invalid';
    }
  }
  const clientIp = clientIpOf(
    server.req?.socket.remoteAddress,
    request.headers.get('x-forwarded-for'),
    deps.trustedProxies,
  );
  const members: Omit<Context, 'em' | 'loaders' | 'log'> = {
    rootEm: deps.em,
    settings: deps.settings,
    provisioner: deps.provisioner,
    usageSource: deps.usageSource,
    topUp: deps.topUp,
    admin,
    adminVia,
    operator,
    adminRole: admin !== 'valid' ? null : (operator?.role ?? 'owner'),
    user,
    userCredential,
    sessionId,
    requestId,
    clientIp,
    client: { ip: clientIp, userAgent: request.headers.get('user-agent') },
    adminSecret: deps.adminSecret,
    mailer: deps.mailer,
  };
  const context = Object.assign(target, members, { [LAZY]: state });
  Object.defineProperties(context, LAZY_MEMBERS);
  return context as unknown as Context;
}
