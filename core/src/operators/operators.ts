import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import {
  dummyVerify,
  hashChangedPassword,
  hashPassword,
  PASSWORD_RULES,
  passwordProblems,
  verifyPassword,
} from '../auth/passwords.ts';
import { countAttempt } from '../auth/rate-limit.ts';
import {
  type AuthSettings,
  attemptBuckets,
  type ClientInfo,
  type IssuedSession,
  openSession,
  pruneEndedSessions,
} from '../auth/sessions.ts';
import { execute, firstRow, rows, sql } from '../db/sql.ts';
import {
  InvalidCredentialsError,
  LastOwnerError,
  NotFoundError,
  OperatorExistsError,
  type Problem,
  parseInput,
  ValidationError,
} from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { emailSchema, normalizeEmail } from '../users/create-user.ts';
import { OPERATOR_ROLES, type OperatorRole } from './roles.ts';

export interface Operator {
  id: string;
  email: string;
  role: OperatorRole;
  /** Whether a password is set (an operator without one signs in with the forge only). */
  hasPassword: boolean;
  /** The OIDC issuer#subject that signs in as this operator; null until the first forge sign-in. */
  forgeId: string | null;
  createdAt: Date;
}

interface OperatorRow {
  id: string;
  email: string;
  role: OperatorRole;
  has_password: boolean;
  forge_id: string | null;
  /** A string or a Date, as the driver answers timestamptz. */
  created_at: Date | string;
}

const COLUMNS = sql`id, email, role, password_hash is not null as has_password, forge_id, created_at`;

const toOperator = (r: OperatorRow): Operator => ({
  id: r.id,
  email: r.email,
  role: r.role,
  hasPassword: r.has_password,
  forgeId: r.forge_id,
  createdAt: new Date(r.created_at),
});

const roleSchema = z.enum(OPERATOR_ROLES, { error: `must be one of ${OPERATOR_ROLES.join(', ')}` });

/** Every operator, owners first, then by email. */
export async function listOperators(em: EntityManager): Promise<Operator[]> {
  const found = await rows(
    em,
    sql<OperatorRow>`select ${COLUMNS} from operator order by role <> 'owner', email`,
  );
  return found.map(toOperator);
}

export async function findOperator(em: EntityManager, id: string): Promise<Operator | null> {
  if (!isUuid(id)) return null;
  const row = await firstRow(em, sql<OperatorRow>`select ${COLUMNS} from operator where id = ${id}`);
  return row ? toOperator(row) : null;
}

export async function findOperatorByEmail(em: EntityManager, email: string): Promise<Operator | null> {
  const row = await firstRow(
    em,
    sql<OperatorRow>`select ${COLUMNS} from operator where email = ${normalizeEmail(email)}`,
  );
  return row ? toOperator(row) : null;
}

export interface CreateOperatorInput {
  email: string;
  role: string;
  /** The initial password (the password rules apply); none: the operator signs in with the forge only. */
  password?: string | null;
}

/**
 * Adds an operator. Every problem with the input is listed (ValidationError: `email`, `role`,
 * `password`); an email that is an operator already is OperatorExistsError. Customers' accounts
 * are not looked at: an operator's email may also have a customer account, and neither gains
 * the other's rights.
 */
export async function createOperator(em: EntityManager, input: CreateOperatorInput): Promise<Operator> {
  const problems: Problem[] = [];
  let data: { email: string; role: OperatorRole } | undefined;
  try {
    data = parseInput(
      z.object({ email: emailSchema, role: roleSchema }),
      { email: input.email.trim(), role: input.role },
      'Invalid operator',
    );
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems.push(...err.problems);
  }
  if (input.password != null)
    for (const message of passwordProblems(input.password, input.email))
      problems.push({ path: 'password', message });
  if (!data || problems.length > 0) throw new ValidationError(problems, 'Invalid operator');

  const passwordHash = input.password != null ? await hashPassword(input.password) : null;
  try {
    const row = await firstRow(
      em,
      sql<OperatorRow>`insert into operator (email, role, password_hash)
        values (${data.email}, ${data.role}, ${passwordHash}) returning ${COLUMNS}`,
    );
    return toOperator(row!);
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException || (err as { code?: string }).code === '23505')
      throw new OperatorExistsError();
    throw err;
  }
}

/** Owners, locked until the transaction ends: two concurrent demotions cannot both pass the check. */
async function lockedOwners(tx: EntityManager): Promise<string[]> {
  const owners = await rows(
    tx,
    sql<{ id: string }>`select id from operator where role = 'owner' order by id for update`,
  );
  return owners.map((o) => o.id);
}

/**
 * Gives an operator another role and ends their sessions (they sign in again under the new
 * role). The last owner cannot be demoted (LastOwnerError); an unknown id is NotFoundError.
 */
export async function setOperatorRole(em: EntityManager, id: string, role: string): Promise<Operator> {
  const parsed = parseInput(z.object({ role: roleSchema }), { role }, 'Invalid role');
  return em.transactional(async (tx) => {
    const owners = await lockedOwners(tx);
    const current = await findOperator(tx, id);
    if (!current) throw new NotFoundError('Operator', id);
    if (current.role === parsed.role) return current;
    if (current.role === 'owner' && owners.length === 1) throw new LastOwnerError();
    const row = await firstRow(
      tx,
      sql<OperatorRow>`update operator set role = ${parsed.role}, updated_at = now()
        where id = ${id} returning ${COLUMNS}`,
    );
    await revokeOperatorSessions(tx, id);
    return toOperator(row!);
  });
}

/** Deletes an operator (their sessions go with them). The last owner cannot be removed. */
export async function removeOperator(em: EntityManager, id: string): Promise<Operator> {
  return em.transactional(async (tx) => {
    const owners = await lockedOwners(tx);
    const current = await findOperator(tx, id);
    if (!current) throw new NotFoundError('Operator', id);
    if (current.role === 'owner' && owners.length === 1) throw new LastOwnerError();
    await execute(tx, sql`delete from operator where id = ${id}`);
    return current;
  });
}

/** Ends every live session of an operator; how many there were. */
export async function revokeOperatorSessions(em: EntityManager, operatorId: string): Promise<number> {
  if (!isUuid(operatorId)) return 0;
  return execute(
    em,
    sql`update auth_session set revoked_at = now()
         where operator_id = ${operatorId} and revoked_at is null and expires_at > now()`,
  );
}

export interface OperatorSignedIn {
  operator: Operator;
  session: IssuedSession;
}

/**
 * Checks an operator's password and opens an ADMIN session carrying the operator. Unknown
 * email, no password and a wrong password all answer InvalidCredentialsError after the same
 * argon2 work; counts as an attempt for the email and the client's address first (as signIn).
 */
export async function operatorSignIn(
  em: EntityManager,
  input: { email: string; password: string },
  options: { settings: AuthSettings; client: ClientInfo },
): Promise<OperatorSignedIn> {
  await countAttempt(em, attemptBuckets(options.settings, options.client, input.email));
  if (input.password.length > 4 * PASSWORD_RULES.maxLength) throw new InvalidCredentialsError();
  const row = await firstRow(
    em,
    sql<{ id: string; password_hash: string | null }>`select id, password_hash from operator
      where email = ${normalizeEmail(input.email)}`,
  );
  if (!row?.password_hash) {
    await dummyVerify(input.password);
    throw new InvalidCredentialsError();
  }
  if (!(await verifyPassword(row.password_hash, input.password))) throw new InvalidCredentialsError();
  return openOperatorSession(em, row.id, options);
}

/** Opens an ADMIN session for an operator known to exist. */
export async function openOperatorSession(
  em: EntityManager,
  operatorId: string,
  options: { settings: AuthSettings; client: ClientInfo },
): Promise<OperatorSignedIn> {
  const session = await em.transactional(async (tx) =>
    openSession(tx, 'ADMIN', options.settings, options.client, { operatorId }),
  );
  await pruneEndedSessions(em);
  const operator = await findOperator(em, operatorId);
  if (!operator) throw new InvalidCredentialsError();
  return { operator, session };
}

/**
 * Changes a signed-in operator's own password: the current one must match
 * (InvalidCredentialsError, counted against the operator and the address), the new one must
 * follow the rules (ValidationError on `newPassword`). The operator's other sessions end.
 */
export async function changeOperatorPassword(
  em: EntityManager,
  operatorId: string,
  input: { currentPassword: string; newPassword: string },
  deps: { keepSessionId: string | null; settings: AuthSettings; client: ClientInfo },
): Promise<{ sessionsEnded: number }> {
  await countAttempt(em, [
    { bucket: `change-operator:${operatorId}`, limit: deps.settings.rateLimitEmail },
    ...attemptBuckets(deps.settings, deps.client),
  ]);
  const row = isUuid(operatorId)
    ? await firstRow(
        em,
        sql<{ email: string; password_hash: string | null }>`select email, password_hash from operator
          where id = ${operatorId}`,
      )
    : undefined;
  const passwordHash = await hashChangedPassword(row, input);
  const keep = deps.keepSessionId && isUuid(deps.keepSessionId) ? deps.keepSessionId : null;
  return em.transactional(async (tx) => {
    await execute(
      tx,
      sql`update operator set password_hash = ${passwordHash}, updated_at = now() where id = ${operatorId}`,
    );
    const sessionsEnded = await execute(
      tx,
      sql`update auth_session set revoked_at = now()
           where operator_id = ${operatorId} and revoked_at is null and expires_at > now()
             and (${keep}::uuid is null or id <> ${keep}::uuid)`,
    );
    return { sessionsEnded };
  });
}
