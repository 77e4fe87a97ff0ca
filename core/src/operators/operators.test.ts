import { describe, expect, it } from 'vitest';
import { DEFAULT_AUTH_SETTINGS, findLiveSession, signIn } from '../auth/sessions.ts';
import {
  InvalidCredentialsError,
  LastOwnerError,
  NotFoundError,
  OperatorExistsError,
  RateLimitedError,
  ValidationError,
} from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, uniqueTag } from '../testing/factories.ts';
import {
  createOperator,
  listOperators,
  operatorSignIn,
  removeOperator,
  setOperatorRole,
} from './operators.ts';

const t = useTestDatabase({ poolMax: 8 });
const ADMIN_SECRET = 'admin-secret-for-tests-0123456789';
const PASSWORD = 'correct horse battery';
const settings = DEFAULT_AUTH_SETTINGS;
const client = () => ({ ip: `10.2.${uniqueTag()}`, userAgent: 'vitest' });
const email = () => `op-${uniqueTag()}@example.org`;

async function signedIn(role: string) {
  const address = email();
  const operator = await createOperator(t.em(), { email: address, role, password: PASSWORD });
  const { session } = await operatorSignIn(
    t.em(),
    { email: address, password: PASSWORD },
    { settings, client: client() },
  );
  return { operator, session };
}

describe('operators', () => {
  it('an operator signs in with email and password into an ADMIN session carrying the role', async () => {
    const { operator, session } = await signedIn('billing');
    expect(operator).toMatchObject({ role: 'billing', hasPassword: true, forgeId: null });
    expect(operator.createdAt).toBeInstanceOf(Date);
    expect((await listOperators(t.em())).find((o) => o.id === operator.id)?.createdAt).toBeInstanceOf(Date);
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).toEqual({
      id: session.id,
      kind: 'ADMIN',
      operator: { id: operator.id, email: operator.email, role: 'billing' },
    });
    // The operator's session does not depend on the admin secret.
    expect(await findLiveSession(t.em(), session.token, `${ADMIN_SECRET}-rotated`)).not.toBeNull();
  });

  it('a wrong password, an unknown email and a password-less operator answer alike', async () => {
    const address = email();
    await createOperator(t.em(), { email: address, role: 'viewer', password: PASSWORD });
    const passwordless = email();
    await createOperator(t.em(), { email: passwordless, role: 'viewer' });
    for (const input of [
      { email: address, password: 'wrong password here' },
      { email: email(), password: PASSWORD },
      { email: passwordless, password: PASSWORD },
    ])
      await expect(operatorSignIn(t.em(), input, { settings, client: client() })).rejects.toThrow(
        InvalidCredentialsError,
      );
  });

  it('operators and customers are apart: neither signs in on the other side', async () => {
    const address = email();
    await createOperator(t.em(), { email: address, role: 'owner', password: PASSWORD });
    await expect(
      signIn(t.em(), { email: address, password: PASSWORD }, { settings, client: client() }),
    ).rejects.toThrow(InvalidCredentialsError);
    const user = await createTestUser(t.em());
    await expect(
      operatorSignIn(t.em(), { email: user.email, password: PASSWORD }, { settings, client: client() }),
    ).rejects.toThrow(InvalidCredentialsError);
  });

  it('operatorSignIn is rate-limited per email', async () => {
    const address = email();
    await createOperator(t.em(), { email: address, role: 'viewer', password: PASSWORD });
    const limited = { ...settings, rateLimitEmail: 2 };
    for (let i = 0; i < 2; i++)
      await expect(
        operatorSignIn(
          t.em(),
          { email: address, password: 'nope nope nope' },
          { settings: limited, client: client() },
        ),
      ).rejects.toThrow(InvalidCredentialsError);
    await expect(
      operatorSignIn(t.em(), { email: address, password: PASSWORD }, { settings: limited, client: client() }),
    ).rejects.toThrow(RateLimitedError);
  });

  it('refuses bad input whole, and a second operator with the same email', async () => {
    const error = await createOperator(t.em(), { email: 'not-an-email', role: 'king', password: 'x' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).problems.map((p) => p.path).sort()).toEqual([
      'email',
      'password',
      'role',
    ]);
    const address = email();
    await createOperator(t.em(), { email: address, role: 'viewer' });
    await expect(
      createOperator(t.em(), { email: ` ${address.toUpperCase()} `, role: 'owner' }),
    ).rejects.toThrow(OperatorExistsError);
  });

  it('a role change and a removal end the sessions; the last owner stays', async () => {
    // Start from no owners at all (other tests made some): demote them to viewers.
    await t.query(`update operator set role = 'viewer' where role = 'owner'`);
    const first = await signedIn('owner');
    const second = await signedIn('owner');
    const live = (token: string) => findLiveSession(t.em(), token, ADMIN_SECRET);

    expect((await setOperatorRole(t.em(), second.operator.id, 'operator')).role).toBe('operator');
    expect(await live(second.session.token)).toBeNull();
    await expect(setOperatorRole(t.em(), first.operator.id, 'viewer')).rejects.toThrow(LastOwnerError);
    await expect(removeOperator(t.em(), first.operator.id)).rejects.toThrow(LastOwnerError);
    expect(await live(first.session.token)).not.toBeNull();

    // Two owners demoting each other at once: one of them stays owner.
    await setOperatorRole(t.em(), second.operator.id, 'owner');
    const results = await Promise.allSettled([
      setOperatorRole(t.em(), first.operator.id, 'viewer'),
      setOperatorRole(t.em(), second.operator.id, 'viewer'),
    ]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    const owners = (await listOperators(t.em())).filter((o) => o.role === 'owner');
    expect(owners).toHaveLength(1);

    const viewer = await signedIn('viewer');
    expect((await removeOperator(t.em(), viewer.operator.id)).id).toBe(viewer.operator.id);
    expect(await live(viewer.session.token)).toBeNull();
    await expect(removeOperator(t.em(), viewer.operator.id)).rejects.toThrow(NotFoundError);
    await expect(setOperatorRole(t.em(), 'not-a-uuid', 'viewer')).rejects.toThrow(NotFoundError);
    await expect(setOperatorRole(t.em(), owners[0]!.id, 'emperor')).rejects.toThrow(ValidationError);
  });
});
