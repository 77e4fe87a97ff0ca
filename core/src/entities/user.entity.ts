import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';

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
    /**
     * When the email was shown to be the user's (a link mailed to it was used, an invitation
     * or reset link, the OIDC issuer's word, an operator); null: unverified, no payment, no VM.
     */
    emailVerifiedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
