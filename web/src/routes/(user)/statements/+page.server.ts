import { graphql, type ResultOf } from '@hero/graphql';
import { error } from '@sveltejs/kit';
import { monthParam, StatementFields } from '#lib/components/statements/statement.ts';
import { gql } from '#lib/server/api.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import type { PageServerLoad } from './$types';

const STATEMENT_PAGE = graphql(
  `
    query UserStatementPage($month: String!) {
      me {
        statementMonths
      }
      statement(month: $month) {
        __typename
        ... on StatementSuccess {
          statement {
            ...StatementFields
          }
        }
        ... on Error {
          code
          message
        }
      }
    }
  `,
  [StatementFields],
);

export const load: PageServerLoad = async (event) => {
  const month = monthParam(event.url.searchParams.get('month'));
  let result: ResultOf<typeof STATEMENT_PAGE>;
  try {
    result = await gql(event, STATEMENT_PAGE, { month });
  } catch (err) {
    const { status, code, message } = describeUserFailure(event, err);
    error(status, message, { code });
  }
  const answer = result.statement;
  return {
    month,
    months: result.me.statementMonths,
    statement: answer.__typename === 'StatementSuccess' ? answer.statement : null,
    error: answer.__typename === 'StatementSuccess' ? null : (answer as { message: string }).message,
  };
};
