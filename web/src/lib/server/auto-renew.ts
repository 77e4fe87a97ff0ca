import { graphql, type ResultOf } from '@hero/graphql';
import { fail, type RequestEvent } from '@sveltejs/kit';
import { gql } from './api.ts';
import { describeUserFailure } from './user.ts';

const SET_AUTO_RENEW = graphql(`
  mutation UserSetAutoRenew($enabled: Boolean!) {
    setAutoRenew(enabled: $enabled) {
      __typename
      ... on SetAutoRenewSuccess {
        user {
          id
          autoRenew
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

/** What the auto-renew form action answers: a success or an error, in words. */
export interface AutoRenewMessage {
  action: 'autoRenew';
  success?: string;
  error?: string;
}

/** The dashboard's `?/autoRenew` action: `enabled` = `on` or `off`. */
export async function setAutoRenewAction(event: RequestEvent) {
  const data = await event.request.formData();
  const enabled = String(data.get('enabled') ?? '');
  if (enabled !== 'on' && enabled !== 'off') {
    return fail(400, { action: 'autoRenew', error: 'Choose on or off.' } satisfies AutoRenewMessage);
  }
  let result: ResultOf<typeof SET_AUTO_RENEW>['setAutoRenew'];
  try {
    ({ setAutoRenew: result } = await gql(event, SET_AUTO_RENEW, { enabled: enabled === 'on' }));
  } catch (err) {
    const { status, message } = describeUserFailure(event, err);
    return fail(status, { action: 'autoRenew', error: message } satisfies AutoRenewMessage);
  }
  if (result.__typename === 'SetAutoRenewSuccess') {
    const success = result.user.autoRenew
      ? 'Auto-renew is on: your plan is renewed from your balance before the period ends.'
      : 'Auto-renew is off: your VMs are released when the period ends unless you renew.';
    return { action: 'autoRenew', success } satisfies AutoRenewMessage;
  }
  const error =
    result.__typename === 'NoPlanToRenewError'
      ? 'Buy a plan first: auto-renew renews the plan you bought last.'
      : (result as { message: string }).message;
  return fail(409, { action: 'autoRenew', error } satisfies AutoRenewMessage);
}
