import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';

/**
 * active; suspended by an operator (sign-in, sessions, API tokens and allocation refused,
 * reversible); deleted (personal data erased, the row kept as the ledger's tombstone).
 */
export const USER_STATUSES = ['active', 'suspended', 'deleted'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    email: p.text().unique(),
    displayName: p.text(),
    /** Slot for a forge / OIDC identity; unused until sign-in through the forge exists. */
    forgeId: p.text().nullable().unique(),
    /** argon2id PHC string; null: no password (users made by createUser), no password sign-in. */
    passwordHash: p.text().nullable().hidden().lazy(),
    vmQuota: p.integer().default(0),
    vmQuotaPeriodEnd: p.datetime().nullable(),
    /** Opt-in: before the period ends, renew the last purchased plan for one period from the balance. */
    autoRenew: p.boolean().default(false),
    /** Email the warnings (expiry, credit low or negative, a VM released for them); see outbox/email-events. */
    emailWarnings: p.boolean().default(true),
    /** Email the receipts (payment received, plan renewed). */
    emailReceipts: p.boolean().default(false),
    /**
     * When the email was shown to be the user's (a link mailed to it was used, an invitation
     * or reset link, the OIDC issuer's word, an operator); null: unverified, no payment, no VM.
     */
    emailVerifiedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Written only by users/account-lifecycle.ts. */
    status: p.enum(USER_STATUSES).default('active'),
    suspendedAt: p.datetime().nullable(),
    /** The operator's reason, kept while suspended. */
    suspendedReason: p.text().nullable(),
    deletedAt: p.datetime().nullable(),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
