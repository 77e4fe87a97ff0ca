import { defineEntity, p } from '@mikro-orm/core';
import type { IgnoredFile } from '../usage/usage-format.ts';

/** The aggregator's position in one node's usage files (`nodes/<nodeName>/` in the billing repository). */
export const AggregatorNodeStateSchema = defineEntity({
  name: 'AggregatorNodeState',
  tableName: 'aggregator_node_state',
  properties: {
    nodeName: p.text().primary(),
    /** The latest commit touching the node's directory that was applied whole. */
    lastCommitSha: p.text().nullable(),
    /** The last tick that looked at the node (skipped, applied or failed). */
    lastRunAt: p.datetime().nullable(),
    /** The last tick that applied the node whole. */
    lastSuccessAt: p.datetime().nullable(),
    recordsConsumedTotal: p.bigint('number').default(0),
    /** Files of the node applied so far. */
    filesTotal: p.integer().default(0),
    /** Why the last tick failed on this node; null once a tick applies it. */
    lastError: p.text().nullable(),
    /** Files in the node's directory that are not usage files, when it was last read. */
    ignoredFiles: p.integer().default(0),
    /** The first of them (MAX_IGNORED_LISTED), with the reason. */
    ignoredFileList: p.json<IgnoredFile[]>().default([]),
  },
});

export class AggregatorNodeState extends AggregatorNodeStateSchema.class {}
AggregatorNodeStateSchema.setClass(AggregatorNodeState);
