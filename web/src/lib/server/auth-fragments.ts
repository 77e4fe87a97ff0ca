/** The error members of the sign-in and sign-up results, as the pages read them. */
import { graphql } from '@hero/graphql';

/** What a sign-in can answer instead of a session: wrong credentials, or too many attempts. */
export const SignInErrorFields = graphql(`
  fragment SignInErrorFields on Error {
    code
    message
    ... on RateLimitedError {
      retryAfterSeconds
    }
  }
`);

/** What a sign-up can answer instead of a session: validation problems too. */
export const SignUpErrorFields = graphql(`
  fragment SignUpErrorFields on Error {
    code
    message
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
`);

/** What the password pages (reset, change) can answer instead of success. */
export const PasswordErrorFields = graphql(`
  fragment PasswordErrorFields on Error {
    code
    message
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
`);
