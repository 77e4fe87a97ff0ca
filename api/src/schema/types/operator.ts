import { operatorSignInWithOidc } from '@hero/core/auth/oidc';
import type { SessionOperator } from '@hero/core/auth/sessions';
import {
  InvalidCredentialsError,
  LastOwnerError,
  NotFoundError,
  OperatorExistsError,
  RateLimitedError,
  ValidationError,
} from '@hero/core/errors';
import {
  changeOperatorPassword,
  createOperator,
  listOperators,
  type Operator,
  type OperatorSignedIn,
  operatorSignIn,
  removeOperator,
  setOperatorRole,
} from '@hero/core/operators/operators';
import { OPERATOR_ROLES, type OperatorRole, roleHas } from '@hero/core/operators/roles';
import { builder } from '../builder.ts';
import { ErrorInterface } from './errors.ts';
import { ChangePasswordInput, ChangePasswordSuccess } from './password.ts';
import { SessionType, SignInWithOidcInput } from './session.ts';

export const OperatorRoleEnum = builder.enumType('OperatorRole', {
  description:
    'What an operator may do. OWNER: everything, and manages operators. OPERATOR: the pool, allocations, jobs and users. BILLING: payments, refunds, balance adjustments and plans. VIEWER: reads every admin page, changes nothing.',
  values: Object.fromEntries(OPERATOR_ROLES.map((role) => [role.toUpperCase(), { value: role }])) as Record<
    Uppercase<OperatorRole>,
    { value: OperatorRole }
  >,
});

export const OperatorType = builder.objectRef<Operator>('Operator').implement({
  description: 'A named operator of the admin panel (not a user: operators hold no balance and no VMs).',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    role: t.field({ type: OperatorRoleEnum, resolve: (o) => o.role }),
    hasPassword: t.exposeBoolean('hasPassword', {
      description: 'False: the operator signs in with the forge (OIDC) only.',
    }),
    forgeId: t.exposeString('forgeId', {
      nullable: true,
      description: 'The OIDC issuer#subject that signs in as this operator.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface AdminIdentity {
  role: OperatorRole;
  operator: SessionOperator | null;
}

const AdminRightsType = builder.objectRef<OperatorRole>('AdminRights').implement({
  description: 'What the current admin credential may do (the admin UI shows only these).',
  fields: (t) => ({
    operate: t.boolean({
      description: 'The pool, allocations, jobs and users.',
      resolve: (role) => roleHas(role, 'operate'),
    }),
    billing: t.boolean({
      description: 'Payments, refunds, adjustments and plans.',
      resolve: (role) => roleHas(role, 'billing'),
    }),
    owner: t.boolean({ description: 'Manage operators.', resolve: (role) => roleHas(role, 'owner') }),
  }),
});

const AdminIdentityType = builder.objectRef<AdminIdentity>('AdminIdentity').implement({
  description: 'Who the admin credential of this request is.',
  fields: (t) => ({
    role: t.field({ type: OperatorRoleEnum, resolve: (i) => i.role }),
    email: t.string({
      nullable: true,
      description: "The operator's email; null for the admin secret (break-glass, acting as OWNER).",
      resolve: (i) => i.operator?.email ?? null,
    }),
    operatorId: t.id({ nullable: true, resolve: (i) => i.operator?.id ?? null }),
    breakGlass: t.boolean({
      description: 'True for the admin secret and sessions opened with it.',
      resolve: (i) => i.operator === null,
    }),
    rights: t.field({ type: AdminRightsType, resolve: (i) => i.role }),
  }),
});

builder.objectType(OperatorExistsError, {
  name: 'OperatorExistsError',
  description: 'OPERATOR_EXISTS: an operator with this email exists already; nothing was created.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof OperatorExistsError,
});

builder.objectType(LastOwnerError, {
  name: 'LastOwnerError',
  description: 'LAST_OWNER: the change would leave no owner; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof LastOwnerError,
});

builder.queryField('adminMe', (t) =>
  t.field({
    type: AdminIdentityType,
    description: 'Any admin role: who the admin credential is (email, role) and what it may do.',
    authScopes: { adminRead: true },
    resolve: (_root, _args, ctx) => ({ role: ctx.adminRole ?? 'viewer', operator: ctx.operator }),
  }),
);

builder.queryField('operators', (t) =>
  t.field({
    type: [OperatorType],
    description: 'Owner: every operator, owners first.',
    authScopes: { owner: true },
    resolve: (_root, _args, ctx) => listOperators(ctx.em),
  }),
);

const OperatorSignInInput = builder.inputType('OperatorSignInInput', {
  fields: (t) => ({ email: t.string(), password: t.string() }),
});

const OperatorSignInSuccess = builder.objectRef<OperatorSignedIn>('OperatorSignInSuccess').implement({
  description:
    "An operator's admin session: its token works for the operator's role as `Authorization: Bearer <token>` until it expires, is signed out, or the operator's role changes or the operator is removed.",
  fields: (t) => ({
    operator: t.field({ type: OperatorType, resolve: (r) => r.operator }),
    session: t.field({ type: SessionType, resolve: (r) => r.session }),
  }),
});

builder.mutationField('changeOperatorPassword', (t) =>
  t.field({
    type: ChangePasswordSuccess,
    description:
      "Any admin role, as a named operator: change one's own password, giving the current one; one's other sessions end. With the admin secret (no operator): BAD_USER_INPUT. Wrong current password: INVALID_CREDENTIALS, counted against the sign-in rate limits.",
    authScopes: { adminRead: true },
    args: { input: t.arg({ type: ChangePasswordInput }) },
    errors: {
      types: [InvalidCredentialsError, ValidationError, RateLimitedError],
      union: { name: 'ChangeOperatorPasswordResult' },
      directResult: true,
    },
    resolve: (_root, { input }, ctx) => {
      if (!ctx.operator)
        throw new ValidationError(
          [{ path: '', message: 'The admin secret has no password to change: sign in as a named operator' }],
          'No operator signed in',
        );
      return changeOperatorPassword(ctx.em, ctx.operator.id, input, {
        keepSessionId: ctx.sessionId,
        settings: ctx.settings.auth,
        client: ctx.client,
      });
    },
  }),
);

builder.mutationField('operatorSignInWithOidc', (t) =>
  t.field({
    type: OperatorSignInSuccess,
    description:
      "Public: sign in as an operator with the forge (OpenID Connect). The ID token is verified as for signInWithOidc; its OIDC_ROLE_CLAIM must map to a role through OIDC_ROLE_MAP (else INVALID_CREDENTIALS). The operator is the one with the token's issuer#subject, else the one with its verified email (linked), else a new one; the mapped role is set at every sign-in. Counts against AUTH_RATE_LIMIT_IP.",
    args: { input: t.arg({ type: SignInWithOidcInput }) },
    errors: {
      types: [InvalidCredentialsError, ValidationError, RateLimitedError],
      union: { name: 'OperatorSignInWithOidcResult' },
      directResult: true,
    },
    resolve: (_root, { input }, ctx) => {
      if (!ctx.settings.oidc?.roleClaim)
        throw new InvalidCredentialsError(
          'Operator sign-in with the forge is not configured (OIDC_ROLE_CLAIM)',
        );
      return operatorSignInWithOidc(ctx.em, input, {
        oidc: ctx.settings.oidc,
        settings: ctx.settings.auth,
        client: ctx.client,
      });
    },
  }),
);

builder.mutationField('operatorSignIn', (t) =>
  t.field({
    type: OperatorSignInSuccess,
    description:
      "Public: sign in as a named operator with email and password; opens an admin session acting with the operator's role. Rate-limited like signIn (AUTH_RATE_LIMIT_EMAIL, AUTH_RATE_LIMIT_IP).",
    args: { input: t.arg({ type: OperatorSignInInput }) },
    errors: {
      types: [InvalidCredentialsError, RateLimitedError],
      union: { name: 'OperatorSignInResult' },
      directResult: true,
    },
    resolve: (_root, { input }, ctx) =>
      operatorSignIn(ctx.em, input, { settings: ctx.settings.auth, client: ctx.client }),
  }),
);

const CreateOperatorInput = builder.inputType('CreateOperatorInput', {
  fields: (t) => ({
    email: t.string({ description: 'Stored trimmed and lower-cased.' }),
    role: t.field({ type: OperatorRoleEnum }),
    password: t.string({
      required: false,
      description:
        'The initial password (the passwordRules apply); tell it to the operator out of band. Without one the operator signs in with the forge only.',
    }),
  }),
});

builder.mutationField('createOperator', (t) =>
  t.field({
    type: OperatorType,
    description: 'Owner: add a named operator. The admin secret (acting as owner) creates the first owner.',
    authScopes: { owner: true },
    args: { input: t.arg({ type: CreateOperatorInput }) },
    errors: {
      types: [ValidationError, OperatorExistsError],
      union: { name: 'CreateOperatorResult' },
      result: { name: 'CreateOperatorSuccess' },
      dataField: { name: 'operator' },
    },
    resolve: (_root, { input }, ctx) => createOperator(ctx.em, input),
  }),
);

builder.mutationField('setOperatorRole', (t) =>
  t.field({
    type: OperatorType,
    description:
      "Owner: change an operator's role; the operator's sessions end (they sign in again). The last owner cannot be demoted (LAST_OWNER).",
    authScopes: { owner: true },
    args: { id: t.arg.id(), role: t.arg({ type: OperatorRoleEnum }) },
    errors: {
      types: [NotFoundError, LastOwnerError, ValidationError],
      union: { name: 'SetOperatorRoleResult' },
      result: { name: 'SetOperatorRoleSuccess' },
      dataField: { name: 'operator' },
    },
    resolve: (_root, args, ctx) => setOperatorRole(ctx.em, String(args.id), args.role),
  }),
);

builder.mutationField('removeOperator', (t) =>
  t.field({
    type: OperatorType,
    description:
      'Owner: remove an operator; their sessions end at once. The last owner cannot be removed (LAST_OWNER).',
    authScopes: { owner: true },
    args: { id: t.arg.id() },
    errors: {
      types: [NotFoundError, LastOwnerError],
      union: { name: 'RemoveOperatorResult' },
      result: { name: 'RemoveOperatorSuccess' },
      dataField: { name: 'operator' },
    },
    resolve: (_root, args, ctx) => removeOperator(ctx.em, String(args.id)),
  }),
);
