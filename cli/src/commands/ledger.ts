import { graphql } from '@hero/graphql';
import { collectPages } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatMoney, formatTable, formatTime, truncate } from '../format.ts';
import { resolveOptionalUser, USER_REF_VALUE } from '../user-ref.ts';

const LEDGER_KINDS = ['PAYMENT', 'REFUND', 'PLAN_PURCHASE', 'USAGE', 'ADJUSTMENT'] as const;
const DEFAULT_LEDGER_LIMIT = 50;

export const LEDGER = graphql(`query Ledger($userId: ID, $kind: LedgerKind, $first: Int, $after: String) {
  ledger(userId: $userId, kind: $kind, first: $first, after: $after) {
    edges { node {
      id createdAt userId user { email } kind amountCents balanceAfterCents currency reference note
    } }
    pageInfo { hasNextPage endCursor }
  }
}`);

export const ledgerList = defineCommand({
  name: 'ledger list',
  summary: 'list ledger rows (every change of a balance), newest first',
  options: {
    user: { type: 'string', value: USER_REF_VALUE, help: "only this user's rows (by email or id)" },
    kind: { type: 'string', value: LEDGER_KINDS.join('|'), help: 'only rows of this kind' },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_LEDGER_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    user: values.optionalUser('user'),
    kind: values.oneOf('kind', LEDGER_KINDS),
    limit: values.positiveInt('limit', DEFAULT_LEDGER_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { user, kind, limit }) {
    const userId = await resolveOptionalUser(client, user);
    const rows = await collectPages(limit, async (first, after) => {
      const data = await client.request(LEDGER, {
        userId: userId ?? null,
        kind: kind ?? null,
        first,
        after,
      });
      return data.ledger;
    });
    if (json) return io.out(formatJson(rows));
    if (rows.length === 0) return io.out('no ledger rows\n');
    io.out(
      formatTable(
        ['id', 'created', 'user', 'kind', 'amount', 'balance after', 'reference', 'note'],
        rows.map((r) => [
          r.id,
          formatTime(r.createdAt),
          // the id when the user row is gone
          r.user?.email ?? r.userId,
          r.kind,
          formatMoney(r.amountCents, r.currency),
          formatMoney(r.balanceAfterCents, r.currency),
          r.reference,
          r.note === null ? null : truncate(r.note, 60),
        ]),
      ),
    );
  },
});
