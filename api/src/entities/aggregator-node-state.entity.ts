import { defineEntity, p } from '@mikro-orm/core';

export const AggregatorNodeStateSchema = defineEntity({
  name: 'AggregatorNodeState',
  tableName: 'aggregator_node_state',
  properties: {
    nodeName: p.text().primary(),
    lastCommitSha: p.text().nullable(),
    lastRunAt: p.datetime().nullable(),
    recordsConsumedTotal: p.bigint('number').default(0),
    lastError: p.text().nullable(),
  },
});

export class AggregatorNodeState extends AggregatorNodeStateSchema.class {}
AggregatorNodeStateSchema.setClass(AggregatorNodeState);
