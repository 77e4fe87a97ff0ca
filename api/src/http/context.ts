import type { EntityManager } from '@mikro-orm/postgresql';
import { hashToken, secretsEqual } from '../auth/tokens.ts';
import type { PlanCatalog } from '../billing/plans.ts';
import { User } from '../entities/user.entity.ts';
import type { Logger } from '../lib/logger.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import type { UsageSource } from '../usage/sources/usage-source.ts';

/** What a credential in the request amounts to. */
export type CredentialState = 'missing' | 'invalid' | 'valid';

/** Settings the resolvers need, from the api's configuration. */
export interface ApiSettings {
  /** An ACTIVE allocation this close to its end is `expiringSoon` (EXPIRY_WARNING_HOURS). */
  expiryWarningHours: number;
  /** Usage records per apply transaction (aggregateNow). */
  aggregateBatchSize: number;
  /** New users' billing currency (DEFAULT_CURRENCY). */
  defaultCurrency: string;
  /** The plans users can buy (PLANS_JSON / PLANS_FILE). */
  plans: PlanCatalog;
}

/** Who a valid bearer token belongs to (the user entity is loaded only where a resolver needs it). */
export interface AuthenticatedUser {
  id: string;
}

export interface Context {
  /** Forked for this request; never the global EntityManager. */
  em: EntityManager;
  settings: ApiSettings;
  provisioner: Provisioner | null;
  /** The billing repository, or null when none is configured (aggregateNow answers 503). */
  usageSource: UsageSource | null;
  admin: CredentialState;
  user: AuthenticatedUser | null;
  userCredential: CredentialState;
  log: Logger;
}

export interface ContextDeps {
  em: EntityManager;
  settings: ApiSettings;
  adminSecret: string;
  provisioner: Provisioner | null;
  usageSource: UsageSource | null;
  log: Logger;
}

export async function createContext(request: Request, deps: ContextDeps): Promise<Context> {
  const em = deps.em.fork();
  const adminHeader = request.headers.get('x-admin-secret');
  const admin: CredentialState =
    adminHeader === null || adminHeader === ''
      ? 'missing'
      : secretsEqual(adminHeader, deps.adminSecret)
        ? 'valid'
        : 'invalid';

  let user: AuthenticatedUser | null = null;
  let userCredential: CredentialState = 'missing';
  const authorization = request.headers.get('authorization');
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    user = match ? await em.getRepository(User).idForTokenHash(hashToken(match[1])) : null;
    userCredential = user ? 'valid' : 'invalid';
  }
  return {
    em,
    settings: deps.settings,
    provisioner: deps.provisioner,
    usageSource: deps.usageSource,
    admin,
    user,
    userCredential,
    log: deps.log,
  };
}
