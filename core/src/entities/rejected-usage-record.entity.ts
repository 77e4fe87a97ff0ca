import { defineEntity, p } from '@mikro-orm/core';

/** A usage record that could not be applied, kept with the reason (never silently dropped). */
export const RejectedUsageRecordSchema = defineEntity({
  name: 'RejectedUsageRecord',
  tableName: 'rejected_usage_record',
  indexes: [{ name: 'rejected_usage_record_created_at_index', properties: ['createdAt', 'id'] }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    idempotencyKey: p.text().nullable().index('rejected_usage_record_key_index'),
    /** As written in the record (it may not be a valid uuid). */
    userId: p.text().nullable(),
    nodeName: p.text(),
    filePath: p.text(),
    reason: p.text(),
    record: p.json<Record<string, unknown>>(),
    /** sha256 of file path, record and reason: a record re-read with its file is stored once. */
    fingerprint: p.text().nullable().unique('rejected_usage_record_fingerprint_unique'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class RejectedUsageRecord extends RejectedUsageRecordSchema.class {}
RejectedUsageRecordSchema.setClass(RejectedUsageRecord);
