import { graphql, type ResultOf } from '@hero/graphql';
import { error, isRedirect } from '@sveltejs/kit';
import { csvResponse } from '#lib/components/statements/statement.ts';
import { adminGql } from '#lib/server/admin.ts';
import { describeApiError } from '#lib/server/api.ts';
import type { RequestHandler } from './$types';

const USER_STATEMENT_CSV = graphql(`
  query AdminUserStatementCsv($id: ID!, $month: String!) {
    userStatement(userId: $id, month: $month) {
      __typename
      ... on UserStatementSuccess {
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

/** A user's statement of a month as a CSV download, for an operator (adminGql checks the session). */
export const GET: RequestHandler = async (event) => {
  let result: ResultOf<typeof USER_STATEMENT_CSV>['userStatement'];
  try {
    ({ userStatement: result } = await adminGql(event, USER_STATEMENT_CSV, {
      id: event.params.id,
      month: event.params.month,
    }));
  } catch (err) {
    if (isRedirect(err)) throw err;
    const { code, message } = describeApiError(err);
    error(503, message, { code });
  }
  if (result.__typename !== 'UserStatementSuccess') {
    const { code, message } = result as { code: string; message: string };
    error(code === 'NOT_FOUND' ? 404 : 400, message, { code });
  }
  const { csv, csvFilename } = result.statement;
  return csvResponse(csv, `${event.params.id.slice(0, 8)}-${csvFilename}`);
};
