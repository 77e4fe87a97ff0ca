import { defineEntity, p } from '@mikro-orm/core';

export const RejectedUsageRecordSchema = defineEntity({
  name: 'RejectedUsageRecord',
  tableName: 'rejected_usage_record',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    idempotencyKey: p.text().nullable().index('rejected_usage_record_key_index'),
    nodeName: p.text(),
    filePath: p.text(),
    reason: p.text(),
    record: p.json<Record<string, unknown>>(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class RejectedUsageRecord extends RejectedUsageRecordSchema.class {}
RejectedUsageRecordSchema.setClass(RejectedUsageRecord);
