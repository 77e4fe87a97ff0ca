import { graphql, type ResultOf } from '@hero/graphql';
import { error, redirect } from '@sveltejs/kit';
import { csvResponse } from '#lib/components/statements/statement.ts';
import { gql } from '#lib/server/api.ts';
import { describeUserFailure } from '#lib/server/user.ts';
import type { RequestHandler } from './$types';

const STATEMENT_CSV = graphql(`
  query UserStatementCsv($month: String!) {
    statement(month: $month) {
      __typename
      ... on StatementSuccess {
        statement {
          csv
          csvFilename
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

/** The signed-in user's statement of a month as a CSV download. */
export const GET: RequestHandler = async (event) => {
  if (!event.locals.user) redirect(303, '/signin');
  let result: ResultOf<typeof STATEMENT_CSV>['statement'];
  try {
    ({ statement: result } = await gql(event, STATEMENT_CSV, { month: event.params.month }));
  } catch (err) {
    const { status, code, message } = describeUserFailure(event, err);
    error(status, message, { code });
  }
  if (result.__typename !== 'StatementSuccess') {
    const { code, message } = result as { code: string; message: string };
    error(code === 'NOT_FOUND' ? 404 : 400, message, { code });
  }
  return csvResponse(result.statement.csv, result.statement.csvFilename);
};
