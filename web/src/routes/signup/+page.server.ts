import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail, redirect } from '@sveltejs/kit';
import {
  type FieldErrors,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PASSWORD_RULES_TEXT,
  problemsByField,
  rateLimitMessage,
  sentence,
} from '#lib/components/dashboard/auth-form.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import { SignUpErrorFields } from '#lib/server/auth-fragments.ts';
import { setSessionCookie, USER_COOKIE } from '#lib/server/session.ts';
import type { Actions, PageServerLoad } from './$types';

const SIGN_UP = graphql(
  `
    mutation WebSignUp($input: SignUpInput!) {
      signUp(input: $input) {
        __typename
        ... on SignUpSuccess {
          session {
            token
            expiresAt
          }
        }
        ...SignUpErrorFields
      }
    }
  `,
  [SignUpErrorFields],
);

type Field = 'email' | 'displayName' | 'password';
const FIELDS: readonly Field[] = ['email', 'displayName', 'password'];

export interface SignUpFailure {
  values: { email: string; displayName: string };
  errors: FieldErrors<Field>;
  /** For the whole form (role="alert"). */
  message?: string;
  details?: string[];
  /** Sign-up is not open (any more): show no form. */
  closed?: boolean;
}

const SIGNUP_PAGE = graphql(`
  query WebSignupPage {
    passwordRules {
      minLength
      maxLength
      summary
    }
    signupMode
  }
`);

type PasswordRules = ResultOf<typeof SIGNUP_PAGE>['passwordRules'];
type SignupMode = ResultOf<typeof SIGNUP_PAGE>['signupMode'];

/**
 * The API's rules and sign-up mode when it can say them (it applies them); else the same rules
 * as known here, and the form (signing up then answers what the API answers).
 */
async function signupPage(
  event: Parameters<PageServerLoad>[0],
): Promise<{ passwordRules: PasswordRules; signupMode: SignupMode }> {
  try {
    const { passwordRules: rules, signupMode } = await gql(event, SIGNUP_PAGE, {}, 'none');
    return { passwordRules: { ...rules, summary: sentence(rules.summary) }, signupMode };
  } catch {
    return {
      passwordRules: {
        minLength: PASSWORD_MIN_LENGTH,
        maxLength: PASSWORD_MAX_LENGTH,
        summary: PASSWORD_RULES_TEXT,
      },
      signupMode: 'OPEN',
    };
  }
}

export const load: PageServerLoad = async (event) => {
  if (event.locals.user) redirect(303, '/');
  return signupPage(event);
};

export const actions: Actions = {
  default: async (event) => {
    const data = await event.request.formData();
    const email = String(data.get('email') ?? '').trim();
    const displayName = String(data.get('displayName') ?? '');
    const password = String(data.get('password') ?? '');
    // The password is never sent back to the page.
    const values = { email, displayName };

    // Empty fields are answered here, in words that say so (the API would call an empty email
    // "not a valid email address").
    const missing: FieldErrors<Field> = {};
    if (!email) missing.email = ['Enter your email.'];
    if (!displayName.trim()) missing.displayName = ['Enter a display name.'];
    if (!password) missing.password = ['Choose a password.'];
    if (Object.keys(missing).length > 0) return fail<SignUpFailure>(400, { values, errors: missing });

    let result: ResultOf<typeof SIGN_UP>['signUp'];
    try {
      ({ signUp: result } = await gql(event, SIGN_UP, { input: { email, displayName, password } }, 'none'));
    } catch (err) {
      const { message } = describeApiError(err);
      return fail<SignUpFailure>(503, { values, errors: {}, message });
    }

    if (result.__typename === 'SignUpSuccess') {
      setSessionCookie(event.cookies, event.url, USER_COOKIE, result.session.token, result.session.expiresAt);
      redirect(303, '/');
    }
    const failure = readFragment(SignUpErrorFields, result);
    switch (failure.code) {
      case 'RATE_LIMITED':
        return fail<SignUpFailure>(429, {
          values,
          errors: {},
          message: rateLimitMessage('retryAfterSeconds' in failure ? failure.retryAfterSeconds : undefined),
        });
      case 'EMAIL_TAKEN':
        return fail<SignUpFailure>(409, {
          values,
          errors: {
            email: [
              'An account with this email exists already. Sign in; if an operator created it for you, use the invitation link from your email, or "Forgot password?" on the sign-in page.',
            ],
          },
        });
      case 'SIGNUP_CLOSED':
        return fail<SignUpFailure>(403, { values, errors: {}, message: failure.message, closed: true });
      case 'BAD_USER_INPUT': {
        const sorted = problemsByField('problems' in failure ? failure.problems : [], FIELDS);
        return fail<SignUpFailure>(400, {
          values,
          errors: sorted.fields,
          message: sorted.other.length ? 'Please check the form.' : undefined,
          details: sorted.other,
        });
      }
      default:
        return fail<SignUpFailure>(400, { values, errors: {}, message: failure.message });
    }
  },
};
