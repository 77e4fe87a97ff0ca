import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import {
  type FieldErrors,
  problemsByField,
  rateLimitMessage,
  sentence,
} from '#lib/components/dashboard/auth-form.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { PasswordErrorFields } from '#lib/server/auth-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const CHANGE_PASSWORD = graphql(
  `
    mutation WebChangePassword($input: ChangePasswordInput!) {
      changePassword(input: $input) {
        __typename
        ... on ChangePasswordSuccess {
          sessionsEnded
        }
        ...PasswordErrorFields
      }
    }
  `,
  [PasswordErrorFields],
);

const API_TOKENS = graphql(`
  query WebApiTokens {
    apiTokens {
      id
      name
      createdAt
      expiresAt
      lastUsedAt
    }
    me {
      emailPreferences {
        warnings
        receipts
      }
    }
  }
`);

const SET_EMAIL_PREFERENCES = graphql(`
  mutation WebSetEmailPreferences($warnings: Boolean!, $receipts: Boolean!) {
    setEmailPreferences(warnings: $warnings, receipts: $receipts) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

const CREATE_API_TOKEN = graphql(`
  mutation WebCreateApiToken($name: String!, $expiresAt: DateTime) {
    createApiToken(name: $name, expiresAt: $expiresAt) {
      __typename
      ... on CreateApiTokenSuccess {
        token
        apiToken {
          id
          name
        }
      }
      ... on ValidationError {
        problems {
          path
          message
        }
      }
    }
  }
`);

const REVOKE_API_TOKEN = graphql(`
  mutation WebRevokeApiToken($id: ID!) {
    revokeApiToken(id: $id) {
      __typename
      ... on RevokeApiTokenSuccess {
        apiToken {
          id
          name
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const REQUEST_EMAIL_CHANGE = graphql(`
  mutation WebRequestEmailChange($input: RequestEmailChangeInput!) {
    requestEmailChange(input: $input) {
      __typename
      ... on RequestEmailChangeSuccess {
        newEmail
      }
      ... on Error {
        code
        message
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
      ... on ValidationError {
        problems {
          path
          message
        }
      }
    }
  }
`);

/** The expiry choices of the create form, in days; '' : never. */
const API_TOKEN_EXPIRY_DAYS = ['', '7', '30', '90', '365'] as const;

export const load: PageServerLoad = async (event) => {
  const { apiTokens, me } = await gql(event, API_TOKENS);
  return { apiTokens, emailPreferences: me.emailPreferences };
};

/** What the email preferences form tells the page. */
export interface EmailPreferencesForm {
  emailPreferences: { saved?: boolean; message?: string };
}

/** What the API tokens section's forms tell the page. */
export interface ApiTokenForm {
  apiToken: {
    errors: { name?: string[]; expiresInDays?: string[] };
    message?: string;
    /** Set once, right after creation: the token to copy. */
    created?: { name: string; token: string };
    revoked?: string;
  };
}

type Field = 'currentPassword' | 'newPassword';

export interface ChangePasswordForm {
  errors: FieldErrors<Field>;
  message?: string;
  details?: string[];
  /** Set on success. */
  changed?: { sessionsEnded: number };
}

/** What the email change form tells the page. */
export interface ChangeEmailForm {
  emailChange: {
    errors: { newEmail?: string[]; currentPassword?: string[] };
    message?: string;
    sent?: { newEmail: string };
  };
}

export const actions: Actions = {
  emailPreferences: async (event) => {
    const data = await event.request.formData();
    // An unchecked box is not sent at all: both are always set, from what the form shows.
    const warnings = data.get('warnings') !== null;
    const receipts = data.get('receipts') !== null;
    let result: ResultOf<typeof SET_EMAIL_PREFERENCES>['setEmailPreferences'];
    try {
      ({ setEmailPreferences: result } = await gql(event, SET_EMAIL_PREFERENCES, { warnings, receipts }));
    } catch (err) {
      return fail<EmailPreferencesForm>(503, {
        emailPreferences: { message: describeApiError(err).message },
      });
    }
    if (result.__typename === 'SetEmailPreferencesSuccess') {
      const saved: EmailPreferencesForm = { emailPreferences: { saved: true } };
      return saved;
    }
    return fail<EmailPreferencesForm>(400, { emailPreferences: { message: result.message } });
  },

  changeEmail: async (event) => {
    const data = await event.request.formData();
    const newEmail = String(data.get('newEmail') ?? '').trim();
    const currentPassword = String(data.get('currentPassword') ?? '');
    const errors: ChangeEmailForm['emailChange']['errors'] = {};
    if (!newEmail) errors.newEmail = ['Enter the new email address.'];
    if (!currentPassword) errors.currentPassword = ['Enter your current password.'];
    if (errors.newEmail || errors.currentPassword)
      return fail<ChangeEmailForm>(400, { emailChange: { errors } });

    let result: ResultOf<typeof REQUEST_EMAIL_CHANGE>['requestEmailChange'];
    try {
      ({ requestEmailChange: result } = await gql(event, REQUEST_EMAIL_CHANGE, {
        input: { newEmail, currentPassword },
      }));
    } catch (err) {
      return fail<ChangeEmailForm>(503, {
        emailChange: { errors: {}, message: describeApiError(err).message },
      });
    }
    if (result.__typename === 'RequestEmailChangeSuccess') {
      const sent: ChangeEmailForm = { emailChange: { errors: {}, sent: { newEmail: result.newEmail } } };
      return sent;
    }
    switch (result.code) {
      case 'INVALID_CREDENTIALS':
        return fail<ChangeEmailForm>(400, {
          emailChange: { errors: { currentPassword: [sentence(result.message)] } },
        });
      case 'EMAIL_TAKEN':
        return fail<ChangeEmailForm>(400, {
          emailChange: { errors: { newEmail: ['Another account has this email already.'] } },
        });
      case 'BAD_USER_INPUT':
        return fail<ChangeEmailForm>(400, {
          emailChange: {
            errors: {
              newEmail: ('problems' in result ? result.problems : []).map(
                (p) => `The new email ${p.message}.`,
              ),
            },
          },
        });
      case 'RATE_LIMITED':
        return fail<ChangeEmailForm>(429, {
          emailChange: {
            errors: {},
            message: rateLimitMessage('retryAfterSeconds' in result ? result.retryAfterSeconds : undefined),
          },
        });
      default:
        return fail<ChangeEmailForm>(400, { emailChange: { errors: {}, message: result.message } });
    }
  },

  createApiToken: async (event) => {
    const data = await event.request.formData();
    const name = String(data.get('name') ?? '').trim();
    const days = String(data.get('expiresInDays') ?? '');
    if (!name) return fail<ApiTokenForm>(400, { apiToken: { errors: { name: ['Enter a name.'] } } });
    if (!(API_TOKEN_EXPIRY_DAYS as readonly string[]).includes(days))
      return fail<ApiTokenForm>(400, { apiToken: { errors: { expiresInDays: ['Choose an expiry.'] } } });
    const expiresAt = days ? new Date(Date.now() + Number(days) * 86_400_000).toISOString() : null;
    let result: ResultOf<typeof CREATE_API_TOKEN>['createApiToken'];
    try {
      ({ createApiToken: result } = await gql(event, CREATE_API_TOKEN, { name, expiresAt }));
    } catch (err) {
      return fail<ApiTokenForm>(503, { apiToken: { errors: {}, message: describeApiError(err).message } });
    }
    if (result.__typename === 'CreateApiTokenSuccess') {
      const created: ApiTokenForm = {
        apiToken: { errors: {}, created: { name: result.apiToken.name, token: result.token } },
      };
      return created;
    }
    const errors: ApiTokenForm['apiToken']['errors'] = {};
    for (const p of result.problems) {
      if (p.path === 'expiresAt') errors.expiresInDays = [...(errors.expiresInDays ?? []), p.message];
      else errors.name = [...(errors.name ?? []), `The name ${p.message}.`];
    }
    return fail<ApiTokenForm>(400, { apiToken: { errors } });
  },

  revokeApiToken: async (event) => {
    const data = await event.request.formData();
    const id = String(data.get('id') ?? '');
    let result: ResultOf<typeof REVOKE_API_TOKEN>['revokeApiToken'];
    try {
      ({ revokeApiToken: result } = await gql(event, REVOKE_API_TOKEN, { id }));
    } catch (err) {
      return fail<ApiTokenForm>(503, { apiToken: { errors: {}, message: describeApiError(err).message } });
    }
    if (result.__typename === 'RevokeApiTokenSuccess') {
      const revoked: ApiTokenForm = { apiToken: { errors: {}, revoked: result.apiToken.name } };
      return revoked;
    }
    return fail<ApiTokenForm>(404, {
      apiToken: { errors: {}, message: 'That token does not exist (any more): it may be revoked already.' },
    });
  },

  changePassword: async (event) => {
    const data = await event.request.formData();
    const currentPassword = String(data.get('currentPassword') ?? '');
    const newPassword = String(data.get('newPassword') ?? '');
    const errors: FieldErrors<Field> = {};
    if (!currentPassword) errors.currentPassword = ['Enter your current password.'];
    if (!newPassword) errors.newPassword = ['Enter a new password.'];
    if (errors.currentPassword || errors.newPassword) return fail<ChangePasswordForm>(400, { errors });

    let result: ResultOf<typeof CHANGE_PASSWORD>['changePassword'];
    try {
      ({ changePassword: result } = await gql(event, CHANGE_PASSWORD, {
        input: { currentPassword, newPassword },
      }));
    } catch (err) {
      return fail<ChangePasswordForm>(503, { errors: {}, message: describeApiError(err).message });
    }
    if (result.__typename === 'ChangePasswordSuccess') {
      const changed: ChangePasswordForm = { errors: {}, changed: { sessionsEnded: result.sessionsEnded } };
      return changed;
    }
    const failure = readFragment(PasswordErrorFields, result);
    switch (failure.code) {
      case 'INVALID_CREDENTIALS':
        return fail<ChangePasswordForm>(400, {
          errors: { currentPassword: ['The current password is wrong.'] },
        });
      case 'RATE_LIMITED':
        return fail<ChangePasswordForm>(429, {
          errors: {},
          message: rateLimitMessage('retryAfterSeconds' in failure ? failure.retryAfterSeconds : undefined),
        });
      case 'BAD_USER_INPUT': {
        const sorted = problemsByField('problems' in failure ? failure.problems : [], [
          'currentPassword',
          'newPassword',
        ] as const);
        return fail<ChangePasswordForm>(400, { errors: sorted.fields, details: sorted.other });
      }
      default:
        return fail<ChangePasswordForm>(400, { errors: {}, message: failure.message });
    }
  },
};
