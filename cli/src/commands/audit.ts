import { graphql } from '@hero/graphql';
import { collectPages } from '../client.ts';
import { defineCommand } from '../command.ts';
import { formatJson, formatTable, formatTime, truncate } from '../format.ts';
import { resolveOptionalUser, USER_REF_VALUE } from '../user-ref.ts';
import { dateTime } from '../values.ts';

const DEFAULT_AUDIT_LIMIT = 50;

export const AUDIT_LOG =
  graphql(`query AuditLog($action: String, $since: DateTime, $targetId: String, $first: Int, $after: String) {
  auditLog(action: $action, since: $since, targetId: $targetId, first: $first, after: $after) {
    edges { node {
      id at actorKind actorId actorUser { email } role action targetType targetId targetUser { email }
      input outcome requestId clientIp
    } }
    pageInfo { hasNextPage endCursor }
  }
}`);

/** ` (<email>)` after a user's id; nothing when the entry names no user, or one no longer there. */
const withEmail = (user: { email: string } | null) => (user ? ` (${user.email})` : '');

export const auditList = defineCommand({
  name: 'audit list',
  summary: 'list audit log entries (admin mutations, security events), newest first',
  options: {
    action: {
      type: 'string',
      value: '<action>',
      help: 'only this action (e.g. createUser, auth.sign_in_failed)',
    },
    since: { type: 'string', value: '<date-time>', help: 'only entries at or after this ISO 8601 date-time' },
    user: {
      type: 'string',
      value: USER_REF_VALUE,
      help: 'only entries whose target is this user (by email or id)',
    },
    limit: {
      type: 'string',
      value: '<n>',
      help: `at most this many (default ${DEFAULT_AUDIT_LIMIT}; pages are followed)`,
    },
  },
  parse: (values) => ({
    action: values.string('action') === undefined ? undefined : values.required('action'),
    since: values.string('since') === undefined ? undefined : dateTime('since', values.required('since')),
    user: values.optionalUser('user'),
    limit: values.positiveInt('limit', DEFAULT_AUDIT_LIMIT),
  }),
  uses: 'api',
  async run({ client, json, io }, { action, since, user, limit }) {
    const targetId = await resolveOptionalUser(client, user);
    const entries = await collectPages(limit, async (first, after) => {
      const data = await client.request(AUDIT_LOG, {
        action: action ?? null,
        since: since ?? null,
        targetId: targetId ?? null,
        first,
        after,
      });
      return data.auditLog;
    });
    if (json) return io.out(formatJson(entries));
    if (entries.length === 0) return io.out('no audit entries\n');
    io.out(
      formatTable(
        ['id', 'at', 'actor', 'action', 'target', 'outcome', 'client', 'request', 'input'],
        entries.map((e) => [
          e.id,
          formatTime(e.at),
          e.actorId ? `${e.actorKind}:${e.actorId}${withEmail(e.actorUser)}` : e.actorKind,
          e.action,
          e.targetId ? `${e.targetType ?? '?'}:${e.targetId}${withEmail(e.targetUser)}` : '-',
          e.outcome,
          e.clientIp ?? '-',
          e.requestId ?? '-',
          truncate(JSON.stringify(e.input), 60),
        ]),
      ),
    );
  },
});
