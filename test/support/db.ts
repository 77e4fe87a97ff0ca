/** Test databases: one implementation, in core, for both test tiers. */
export { createTestDatabase, type TestDatabase } from '@hero/core/testing/database';
