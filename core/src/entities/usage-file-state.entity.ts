import { defineEntity, p } from '@mikro-orm/core';

/**
 * A billing-repository file the aggregator has applied whole: the blob sha it had then. A file
 * whose blob sha is unchanged is not read again; one that changed (a node rewrote its current
 * hour) is read again and only its new keys are debited.
 */
export const UsageFileStateSchema = defineEntity({
  name: 'UsageFileState',
  tableName: 'usage_file_state',
  properties: {
    nodeName: p.text().primary(),
    path: p.text().primary(),
    blobSha: p.text(),
    /** The commit the file was read at. */
    commitSha: p.text(),
    /** Records in the file when it was applied (applied, duplicate and rejected together). */
    records: p.integer(),
    appliedAt: p.datetime().onCreate(() => new Date()),
  },
});

export class UsageFileState extends UsageFileStateSchema.class {}
UsageFileStateSchema.setClass(UsageFileState);
