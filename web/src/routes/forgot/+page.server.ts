import { graphql } from '@hero/graphql';
import { fail, redirect } from '@sveltejs/kit';
import { rateLimitMessage } from '#lib/components/dashboard/auth-form.ts';
import { describeApiError, gql } from '#lib/server/api.ts';
import type { Actions, PageServerLoad } from './$types';

const REQUEST_RESET = graphql(`
  mutation WebRequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email) {
      __typename
      ... on RequestPasswordResetSuccess {
        message
      }
      ... on RateLimitedError {
        retryAfterSeconds
      }
    }
  }
`);

export interface ForgotResult {
  values: { email: string };
  errors: { email?: string[] };
  message?: string;
  /** The request was taken (the same words whether or not the email has an account). */
  sent?: string;
}

export const load: PageServerLoad = ({ locals }) => {
  if (locals.user) redirect(303, '/account');
};

export const actions: Actions = {
  default: async (event) => {
    const data = await event.request.formData();
    const email = String(data.get('email') ?? '').trim();
    const values = { email };
    if (!email) return fail<ForgotResult>(400, { values, errors: { email: ['Enter your email.'] } });
    try {
      const { requestPasswordReset: result } = await gql(event, REQUEST_RESET, { email }, 'none');
      if (result.__typename === 'RequestPasswordResetSuccess') {
        const taken: ForgotResult = { values, errors: {}, sent: result.message };
        return taken;
      }
      return fail<ForgotResult>(429, {
        values,
        errors: {},
        message: rateLimitMessage(result.retryAfterSeconds),
      });
    } catch (err) {
      return fail<ForgotResult>(503, { values, errors: {}, message: describeApiError(err).message });
    }
  },
};
