import { sendEmailVerification } from '@hero/core/auth/email-verification';
import { signInWithOidc } from '@hero/core/auth/oidc';
import { PASSWORD_RULES, PASSWORD_RULES_TEXT } from '@hero/core/auth/password-rules';
import {
  adminSignIn,
  type IssuedSession,
  revokeSession,
  revokeUserSessions,
  type SignedIn,
  signIn,
  signUp,
} from '@hero/core/auth/sessions';
import {
  AccountSuspendedError,
  EmailTakenError,
  InvalidCredentialsError,
  RateLimitedError,
  SignupClosedError,
  UnauthenticatedError,
  ValidationError,
} from '@hero/core/errors';
import { builder } from '../builder.ts';
import './signup-mode.ts';
import { UserType } from './user.ts';

export const SessionType = builder.objectRef<IssuedSession>('Session').implement({
  description:
    'A sign-in session. The token is shown once (only its hash is stored); send it as `Authorization: Bearer <token>`. It ends at expiresAt (SESSION_TTL_HOURS after sign-in, not extended by use), on signOut, or by revokeUserSessions.',
  fields: (t) => ({
    token: t.exposeString('token', {
      description: '`hs_…` for a user session, `ha_…` for an admin session.',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

/** A user and their new session (signUp and signIn succeed with the same shape). */
const signedInType = (name: string, description: string) =>
  builder.objectRef<SignedIn>(name).implement({
    description,
    fields: (t) => ({
      user: t.field({ type: UserType, resolve: (r) => r.user }),
      session: t.field({ type: SessionType, resolve: (r) => r.session }),
    }),
  });

const SignUpSuccess = signedInType('SignUpSuccess', 'The new user, signed in.');
const SignInSuccess = signedInType('SignInSuccess', 'The user, signed in.');

const AdminSignInSuccess = builder.objectRef<IssuedSession>('AdminSignInSuccess').implement({
  description:
    'An admin session: its token works for admin operations as `Authorization: Bearer <token>` until it expires, is signed out, or ADMIN_SECRET changes.',
  fields: (t) => ({ session: t.field({ type: SessionType, resolve: (s) => s }) }),
});

const PasswordRulesType = builder.objectRef<typeof PASSWORD_RULES>('PasswordRules').implement({
  description: 'What signUp accepts as a password.',
  fields: (t) => ({
    minLength: t.exposeInt('minLength', { description: 'Characters (Unicode code points).' }),
    maxLength: t.exposeInt('maxLength'),
    mustDifferFromEmail: t.exposeBoolean('mustDifferFromEmail', {
      description: 'The password must not be the email address (compared case-insensitively).',
    }),
    summary: t.string({ description: 'The rules in one sentence.', resolve: () => PASSWORD_RULES_TEXT }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    email: t.string({ description: 'Stored trimmed and lower-cased.' }),
    displayName: t.string({ description: '1 to 200 characters.' }),
    password: t.string({ description: `${PASSWORD_RULES_TEXT} (see the passwordRules query).` }),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  fields: (t) => ({ email: t.string(), password: t.string() }),
});

builder.queryField('passwordRules', (t) =>
  t.field({
    type: PasswordRulesType,
    description: 'Public: the password rules signUp applies.',
    resolve: () => PASSWORD_RULES,
  }),
);

builder.mutationField('signUp', (t) =>
  t.field({
    type: SignUpSuccess,
    description:
      'Public: create an account when SIGNUP_MODE is `open` (otherwise SIGNUP_CLOSED; see signupMode) (empty balance in DEFAULT_CURRENCY; no plan, or the SIGNUP_TRIAL plan period when one is offered) with a password, and sign it in. With SIGNUP_VERIFY_EMAIL the account starts unverified (`User.emailVerified`) and a verification link (WEB_PUBLIC_URL/verify?token=…) is emailed: until it is used, paying and allocating answer EMAIL_NOT_VERIFIED. Counts against the sign-in rate limits of the email and the client address.',
    args: { input: t.arg({ type: SignUpInput }) },
    errors: {
      types: [SignupClosedError, ValidationError, EmailTakenError, RateLimitedError],
      union: { name: 'SignUpResult' },
      directResult: true,
    },
    resolve: async (_root, { input }, ctx) => {
      const { verification, ...signedIn } = await signUp(ctx.em, input, {
        currency: ctx.settings.defaultCurrency,
        settings: ctx.settings.auth,
        client: ctx.client,
        trial: ctx.settings.signupTrial,
        mode: ctx.settings.signupMode,
        verifyEmail: ctx.settings.signupVerifyEmail ? { webUrl: ctx.settings.passwordReset.webUrl } : null,
      });
      // After the commit, not awaited: a slow SMTP server does not hold the sign-up.
      if (verification) void sendEmailVerification(verification, { mailer: ctx.mailer, log: ctx.log });
      return signedIn;
    },
  }),
);

builder.mutationField('signIn', (t) =>
  t.field({
    type: SignInSuccess,
    description:
      'Public: sign in with email and password; opens a user session. The right password of a suspended account: ACCOUNT_SUSPENDED. At most AUTH_RATE_LIMIT_EMAIL attempts per email and AUTH_RATE_LIMIT_IP per client address in 15 minutes.',
    args: { input: t.arg({ type: SignInInput }) },
    errors: {
      types: [InvalidCredentialsError, AccountSuspendedError, RateLimitedError],
      union: { name: 'SignInResult' },
      directResult: true,
    },
    resolve: (_root, { input }, ctx) =>
      signIn(ctx.em, input, { settings: ctx.settings.auth, client: ctx.client }),
  }),
);

export const SignInWithOidcInput = builder.inputType('SignInWithOidcInput', {
  fields: (t) => ({
    idToken: t.string({
      description: 'The ID token the OIDC_ISSUER_URL issuer gave the web in the authorization code exchange.',
    }),
    nonce: t.string({ description: 'The nonce the web sent in that authorization request.' }),
  }),
});

builder.mutationField('signInWithOidc', (t) =>
  t.field({
    type: SignInSuccess,
    description:
      "Public: sign in with the forge (OpenID Connect). The api verifies the ID token itself (signature by the issuer's published keys, issuer, audience OIDC_CLIENT_ID, expiry, nonce) and opens a user session for the account whose forgeId is the token's issuer#subject; else the account with the token's email when the issuer marks it verified (its forgeId is filled in); else a new account (under SIGNUP_VERIFY_EMAIL, when the issuer does not mark its email verified, unverified and mailed a verification link). An unverified email that is registered already: EMAIL_TAKEN. Anything not verified, or no OIDC_ISSUER_URL: INVALID_CREDENTIALS. Counts against AUTH_RATE_LIMIT_IP.",
    args: { input: t.arg({ type: SignInWithOidcInput }) },
    errors: {
      types: [
        InvalidCredentialsError,
        AccountSuspendedError,
        EmailTakenError,
        ValidationError,
        RateLimitedError,
      ],
      union: { name: 'SignInWithOidcResult' },
      directResult: true,
    },
    resolve: async (_root, { input }, ctx) => {
      if (!ctx.settings.oidc)
        throw new InvalidCredentialsError('Sign-in with the forge is not configured (OIDC_ISSUER_URL)');
      const { verification, ...signedIn } = await signInWithOidc(ctx.em, input, {
        oidc: ctx.settings.oidc,
        settings: ctx.settings.auth,
        client: ctx.client,
        currency: ctx.settings.defaultCurrency,
        trial: ctx.settings.signupTrial,
        verifyEmail: ctx.settings.signupVerifyEmail ? { webUrl: ctx.settings.passwordReset.webUrl } : null,
      });
      if (verification) void sendEmailVerification(verification, { mailer: ctx.mailer, log: ctx.log });
      return signedIn;
    },
  }),
);

builder.mutationField('adminSignIn', (t) =>
  t.field({
    type: AdminSignInSuccess,
    description:
      'Public: exchange the admin secret for an admin session token (the secret then stays on the server that called this). Rate-limited per client address.',
    args: { secret: t.arg.string() },
    errors: {
      types: [InvalidCredentialsError, RateLimitedError],
      union: { name: 'AdminSignInResult' },
      directResult: true,
    },
    resolve: (_root, { secret }, ctx) =>
      adminSignIn(ctx.em, secret, {
        adminSecret: ctx.adminSecret,
        settings: ctx.settings.auth,
        client: ctx.client,
      }),
  }),
);

builder.mutationField('signOut', (t) =>
  t.boolean({
    description:
      'Ends the session whose token is the bearer token (user or admin session); true when it was live. Without a live session token: UNAUTHENTICATED.',
    authScopes: { session: true },
    resolve: async (_root, _args, ctx) => {
      if (!ctx.sessionId)
        throw new UnauthenticatedError('Send the session token as "Authorization: Bearer <token>"');
      return revokeSession(ctx.em, ctx.sessionId);
    },
  }),
);

builder.mutationField('revokeUserSessions', (t) =>
  t.int({
    description:
      'Admin: end every live session of a user (they must sign in again); how many were ended. API tokens are not affected.',
    authScopes: { operate: true },
    args: { userId: t.arg.id() },
    resolve: (_root, args, ctx) => revokeUserSessions(ctx.em, String(args.userId)),
  }),
);

builder.objectField(UserType, 'activeSessions', (t) =>
  t.int({
    description: 'Live sign-in sessions (not expired, not revoked).',
    resolve: (user, _args, ctx) => ctx.loaders.activeSessions.load(user.id),
  }),
);
