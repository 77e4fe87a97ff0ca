import { graphql, type ResultOf } from '@hero/graphql';
import type { RequestEvent } from '@sveltejs/kit';
import { gql } from './api.ts';

const SIGNUP_MODE = graphql(`
  query WebSignupMode {
    signupMode
  }
`);

export type SignupMode = ResultOf<typeof SIGNUP_MODE>['signupMode'];

/**
 * Who may sign up (the API's SIGNUP_MODE). When the API cannot say, OPEN: the form shows, and
 * signing up then answers what the API answers.
 */
export async function signupMode(event: RequestEvent): Promise<SignupMode> {
  try {
    return (await gql(event, SIGNUP_MODE, {}, 'none')).signupMode;
  } catch {
    return 'OPEN';
  }
}
