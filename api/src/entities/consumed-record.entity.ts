import { defineEntity, p } from '@mikro-orm/core';

export const ConsumedRecordSchema = defineEntity({
  name: 'ConsumedRecord',
  tableName: 'consumed_record',
  properties: {
    idempotencyKey: p.text().primary(),
    userId: p.uuid().index('consumed_record_user_id_index'),
    nodeName: p.text(),
    costCents: p.bigint('number'),
    appliedAt: p.datetime().onCreate(() => new Date()),
  },
});

export class ConsumedRecord extends ConsumedRecordSchema.class {}
ConsumedRecordSchema.setClass(ConsumedRecord);
