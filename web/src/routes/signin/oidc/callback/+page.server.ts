import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { error, redirect } from '@sveltejs/kit';
import * as client from 'openid-client';
import { describeApiError, gql } from '#lib/server/api.ts';
import { SignInErrorFields } from '#lib/server/auth-fragments.ts';
import { oidcClient, redirectUri, takeFlow } from '#lib/server/oidc.ts';
import { ADMIN_COOKIE, setSessionCookie, USER_COOKIE } from '#lib/server/session.ts';
import type { PageServerLoad } from './$types';

const SIGN_IN_WITH_OIDC = graphql(
  `
    mutation WebSignInWithOidc($input: SignInWithOidcInput!) {
      signInWithOidc(input: $input) {
        __typename
        ... on SignInSuccess {
          session {
            token
            expiresAt
          }
        }
        ...SignInErrorFields
      }
    }
  `,
  [SignInErrorFields],
);

const OPERATOR_SIGN_IN_WITH_OIDC = graphql(`
  mutation WebOperatorSignInWithOidc($input: SignInWithOidcInput!) {
    operatorSignInWithOidc(input: $input) {
      __typename
      ... on OperatorSignInSuccess {
        session {
          token
          expiresAt
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const START_AGAIN = 'The sign-in with the forge could not be verified. Start it again from the sign-in page.';

/**
 * The issuer sends the browser back here. The code is exchanged with this browser's PKCE
 * verifier, and the state and the ID token's nonce are checked (openid-client); the api then
 * verifies the ID token itself and opens the session (an operator's admin session when the
 * admin login started the flow). A load, not an endpoint: a refusal is
 * shown on the app's error page.
 */
export const load: PageServerLoad = async (event) => {
  const { cookies, url } = event;
  const configuration = oidcClient();
  if (!configuration) error(404, 'Sign-in with the forge is not configured.');
  const flow = takeFlow(cookies, url);
  if (!flow) error(400, START_AGAIN);
  if (url.searchParams.has('error'))
    error(
      400,
      `The forge did not sign you in (${url.searchParams.get('error')}). Start again from the sign-in page.`,
    );

  let idToken: string | undefined;
  try {
    const config = await configuration;
    const tokens = await client.authorizationCodeGrant(config, new URL(`${redirectUri(url)}${url.search}`), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    idToken = tokens.id_token;
  } catch {
    error(400, START_AGAIN);
  }
  if (!idToken) error(400, START_AGAIN);

  if (flow.purpose === 'operator') {
    let signedIn: ResultOf<typeof OPERATOR_SIGN_IN_WITH_OIDC>['operatorSignInWithOidc'];
    try {
      ({ operatorSignInWithOidc: signedIn } = await gql(
        event,
        OPERATOR_SIGN_IN_WITH_OIDC,
        { input: { idToken, nonce: flow.nonce } },
        'none',
      ));
    } catch (err) {
      error(503, describeApiError(err).message);
    }
    if (signedIn.__typename === 'OperatorSignInSuccess') {
      setSessionCookie(cookies, url, ADMIN_COOKIE, signedIn.session.token, signedIn.session.expiresAt);
      redirect(303, '/admin');
    }
    error(signedIn.code === 'RATE_LIMITED' ? 429 : 403, signedIn.message);
  }

  let result: ResultOf<typeof SIGN_IN_WITH_OIDC>['signInWithOidc'];
  try {
    ({ signInWithOidc: result } = await gql(
      event,
      SIGN_IN_WITH_OIDC,
      { input: { idToken, nonce: flow.nonce } },
      'none',
    ));
  } catch (err) {
    error(503, describeApiError(err).message);
  }
  if (result.__typename === 'SignInSuccess') {
    setSessionCookie(cookies, url, USER_COOKIE, result.session.token, result.session.expiresAt);
    redirect(303, '/');
  }
  const failure = readFragment(SignInErrorFields, result);
  error(failure.code === 'RATE_LIMITED' ? 429 : 400, failure.message);
};
