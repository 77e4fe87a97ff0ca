import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../entities/user.entity.ts';
import { AccountSuspendedError, EmailTakenError, InvalidCredentialsError } from '../errors.ts';
import { createOperator, findOperator } from '../operators/operators.ts';
import { useTestDatabase } from '../testing/database.ts';
import { uniqueTag } from '../testing/factories.ts';
import { deleteUser, suspendUser } from '../users/account-lifecycle.ts';
import { type OidcSettings, operatorSignInWithOidc, signInWithOidc } from './oidc.ts';
import { DEFAULT_AUTH_SETTINGS, findLiveSession, signUp } from './sessions.ts';

const t = useTestDatabase({ poolMax: 8 });

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let keys: KeyPair;
let otherKeys: KeyPair;
let server: Server;
let oidc: OidcSettings;

/** An issuer in this process: its discovery document and its key set, nothing else. */
beforeAll(async () => {
  keys = await generateKeyPair('RS256');
  otherKeys = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((req, res) => {
    const issuer = oidc.issuer;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  oidc = { issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clientId: 'hero-web' };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const NONCE = 'nonce-0123456789';

async function idToken(
  claims: JWTPayload,
  options: { key?: KeyPair; audience?: string; expiresIn?: string } = {},
) {
  return new SignJWT({ nonce: NONCE, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(oidc.issuer)
    .setAudience(options.audience ?? oidc.clientId)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign((options.key ?? keys).privateKey);
}

const client = () => ({ ip: `10.9.${uniqueTag()}`, userAgent: 'vitest' });
const signIn = (token: string, nonce = NONCE) =>
  signInWithOidc(
    t.em(),
    { idToken: token, nonce },
    { oidc, settings: DEFAULT_AUTH_SETTINGS, client: client(), currency: 'EUR' },
  );
const person = () => {
  const tag = uniqueTag();
  return { sub: `sub-${tag}`, email: `oidc-${tag}@example.org`, email_verified: true, name: `Forge ${tag}` };
};

describe('signInWithOidc', () => {
  it('creates the user with forgeId on the first login and reuses it on the next', async () => {
    const p = person();
    const first = await signIn(await idToken(p));
    expect(first.user).toMatchObject({
      email: p.email,
      displayName: p.name,
      forgeId: `${oidc.issuer}#${p.sub}`,
    });
    expect(first.session.token).toMatch(/^hs_/);
    // A changed email at the forge does not make a second account.
    const second = await signIn(await idToken({ ...p, email: `changed-${p.email}` }));
    expect(second.user.id).toBe(first.user.id);
    expect(await t.em().count(User, { forgeId: `${oidc.issuer}#${p.sub}` })).toBe(1);
  });

  it('two first logins at once make one account', async () => {
    const p = person();
    const token = await idToken(p);
    const [a, b] = await Promise.all([signIn(token), signIn(token)]);
    expect(a.user.id).toBe(b.user.id);
    expect(await t.em().fork().count(User, { email: p.email })).toBe(1);
  });

  it('refuses a suspended account; after its deletion the forge identity makes a new account', async () => {
    const p = person();
    const first = await signIn(await idToken(p));
    const deps = { provisionerFor: () => null };
    await suspendUser(t.em(), { userId: first.user.id, reason: 'review' }, deps);
    await expect(signIn(await idToken(p))).rejects.toBeInstanceOf(AccountSuspendedError);
    await deleteUser(t.em(), { userId: first.user.id, confirmEmail: p.email }, deps);
    const again = await signIn(await idToken(p));
    expect(again.user.id).not.toBe(first.user.id);
    expect(again.user).toMatchObject({ email: p.email, forgeId: `${oidc.issuer}#${p.sub}` });
  });

  it('links a password account with the same verified email', async () => {
    const p = person();
    const { user } = await signUp(
      t.em(),
      { email: p.email, displayName: 'Has a password', password: 'correct horse battery' },
      { currency: 'EUR', settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    const signedIn = await signIn(await idToken(p));
    expect(signedIn.user.id).toBe(user.id);
    const row = await t.em().fork().findOneOrFail(User, user.id);
    expect(row.forgeId).toBe(`${oidc.issuer}#${p.sub}`);
  });

  it('never links an unverified email, nor an account linked to another identity', async () => {
    const p = person();
    const owner = await signIn(await idToken(p));
    await expect(
      signIn(await idToken({ ...p, sub: `${p.sub}-2`, email_verified: false })),
    ).rejects.toBeInstanceOf(EmailTakenError);
    await expect(signIn(await idToken({ ...p, sub: `${p.sub}-3` }))).rejects.toBeInstanceOf(
      InvalidCredentialsError,
    );
    const row = await t.em().fork().findOneOrFail(User, owner.user.id);
    expect(row.forgeId).toBe(`${oidc.issuer}#${p.sub}`);
    expect(await t.em().fork().count(User, { email: p.email })).toBe(1);
  });

  it('refuses a wrong nonce, a foreign key, another audience and an expired token; nothing is created', async () => {
    const p = person();
    const refused: [string, string][] = [
      [await idToken(p), 'another-nonce'],
      [await idToken(p, { key: otherKeys }), NONCE],
      [await idToken(p, { audience: 'another-client' }), NONCE],
      [await idToken(p, { expiresIn: '-1m' }), NONCE],
      ['not.a.jwt', NONCE],
    ];
    for (const [token, nonce] of refused)
      await expect(signIn(token, nonce)).rejects.toBeInstanceOf(InvalidCredentialsError);
    expect(await t.em().fork().count(User, { email: p.email })).toBe(0);
  });
});

describe('signInWithOidc and email verification (SIGNUP_VERIFY_EMAIL)', () => {
  const signInVerifying = async (token: string) =>
    signInWithOidc(
      t.em(),
      { idToken: token, nonce: NONCE },
      {
        oidc,
        settings: DEFAULT_AUTH_SETTINGS,
        client: client(),
        currency: 'EUR',
        verifyEmail: { webUrl: 'https://hero.example.org' },
      },
    );
  const verifiedAt = async (id: string) => (await t.em().findOneOrFail(User, id)).emailVerifiedAt;

  it('a new account is verified when the issuer says so, else unverified (a link to mail) until the issuer does', async () => {
    const vouched = await signInVerifying(await idToken(person()));
    expect(await verifiedAt(vouched.user.id)).toBeInstanceOf(Date);
    expect(vouched.verification).toBeNull();

    const p = { ...person(), email_verified: false };
    const first = await signInVerifying(await idToken(p));
    expect(await verifiedAt(first.user.id)).toBeNull();
    // A link to mail, for the new account's address; none on the next sign-in.
    expect(first.verification).toMatchObject({ userId: first.user.id, email: p.email });
    expect(first.verification?.url).toMatch(/^https:\/\/hero\.example\.org\/verify\?token=hpv_/);
    expect((await signInVerifying(await idToken(p))).verification).toBeNull();
    const later = await signInVerifying(await idToken({ ...p, email_verified: true }));
    expect(later.user.id).toBe(first.user.id);
    expect(await verifiedAt(first.user.id)).toBeInstanceOf(Date);
  });

  it('without verification asked for, a new account is verified whatever the issuer says', async () => {
    const { user } = await signIn(await idToken({ ...person(), email_verified: false }));
    expect(await verifiedAt(user.id)).toBeInstanceOf(Date);
  });
});

describe('operatorSignInWithOidc', () => {
  const operatorSignIn = (token: string, nonce = NONCE) =>
    operatorSignInWithOidc(
      t.em(),
      { idToken: token, nonce },
      {
        oidc: {
          ...oidc,
          roleClaim: 'groups',
          roleMap: { 'hero-admins': 'owner', 'hero-support': 'operator', 'hero-readers': 'viewer' },
        },
        settings: DEFAULT_AUTH_SETTINGS,
        client: client(),
      },
    );

  it('an operator mapped by claim gets the role, and the forge keeps deciding it', async () => {
    const p = person();
    const first = await operatorSignIn(
      await idToken({ ...p, groups: ['staff', 'hero-support', 'hero-readers'] }),
    );
    expect(first.operator).toMatchObject({
      email: p.email,
      role: 'operator',
      forgeId: `${oidc.issuer}#${p.sub}`,
    });
    expect(first.session.token).toMatch(/^ha_/);
    expect(await findLiveSession(t.em(), first.session.token, 'any-secret')).toMatchObject({
      kind: 'ADMIN',
      operator: { id: first.operator.id, role: 'operator' },
    });
    // A single string claim works too; the next sign-in applies the forge's current groups.
    const again = await operatorSignIn(await idToken({ ...p, groups: 'hero-admins' }));
    expect(again.operator).toMatchObject({ id: first.operator.id, role: 'owner' });
    // No customer account was made.
    expect(await t.em().fork().count(User, { email: p.email })).toBe(0);
  });

  it('links an operator added by email; refuses a token without a mapped role or with a wrong nonce', async () => {
    const p = person();
    const added = await createOperator(t.em(), { email: p.email, role: 'billing' });
    const signedIn = await operatorSignIn(await idToken({ ...p, groups: ['hero-readers'] }));
    expect(signedIn.operator.id).toBe(added.id);
    expect(await findOperator(t.em(), added.id)).toMatchObject({
      role: 'viewer',
      forgeId: `${oidc.issuer}#${p.sub}`,
    });

    const other = person();
    await expect(operatorSignIn(await idToken({ ...other, groups: ['staff'] }))).rejects.toBeInstanceOf(
      InvalidCredentialsError,
    );
    await expect(operatorSignIn(await idToken(other))).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(
      operatorSignIn(await idToken({ ...other, groups: ['hero-admins'] }), 'another-nonce'),
    ).rejects.toBeInstanceOf(InvalidCredentialsError);
    // An unverified email never reaches an operator added by email.
    await expect(
      operatorSignIn(
        await idToken({ ...p, sub: `${p.sub}-2`, email_verified: false, groups: ['hero-admins'] }),
      ),
    ).rejects.toThrow();
    expect(await findOperator(t.em(), added.id)).toMatchObject({ role: 'viewer' });
  });
});
