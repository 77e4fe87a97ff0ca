import { defineEntity, p } from '@mikro-orm/core';

/** A usage record that was debited: its idempotency key is never applied again. */
export const ConsumedRecordSchema = defineEntity({
  name: 'ConsumedRecord',
  tableName: 'consumed_record',
  properties: {
    idempotencyKey: p.text().primary(),
    userId: p.uuid().index('consumed_record_user_id_index'),
    nodeName: p.text(),
    /** The billing-repository file the record was read from. */
    filePath: p.text(),
    /** The billing-repository commit the file was read at; null for records consumed before it was kept. */
    commitSha: p.text().nullable(),
    resource: p.text(),
    quantity: p.double(),
    costCents: p.bigint('number'),
    periodStart: p.datetime().nullable(),
    periodEnd: p.datetime().nullable(),
    allocationId: p.uuid().nullable(),
    appliedAt: p.datetime().onCreate(() => new Date()),
  },
});

export class ConsumedRecord extends ConsumedRecordSchema.class {}
ConsumedRecordSchema.setClass(ConsumedRecord);
