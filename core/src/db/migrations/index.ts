import { Migration20261123000000_init } from './Migration20261123000000_init.ts';
import { Migration20261123100000_usage } from './Migration20261123100000_usage.ts';
import { Migration20261123200000_ledger } from './Migration20261123200000_ledger.ts';
import { Migration20261123300000_sessions } from './Migration20261123300000_sessions.ts';
import { Migration20261123400000_outbox_failed } from './Migration20261123400000_outbox_failed.ts';
import { Migration20261123500000_usage_ignored } from './Migration20261123500000_usage_ignored.ts';
import { Migration20261203000000_allocation_extension } from './Migration20261203000000_allocation_extension.ts';
import { Migration20261203100000_no_plan_by_default } from './Migration20261203100000_no_plan_by_default.ts';
import { Migration20261204100000_credit_watch } from './Migration20261204100000_credit_watch.ts';
import { Migration20261204200000_auto_renew } from './Migration20261204200000_auto_renew.ts';
import { Migration20261204300000_consumed_record_commit } from './Migration20261204300000_consumed_record_commit.ts';
import { Migration20261204400000_password_reset } from './Migration20261204400000_password_reset.ts';
import { Migration20261205000000_api_tokens } from './Migration20261205000000_api_tokens.ts';
import { Migration20261205100000_invitations } from './Migration20261205100000_invitations.ts';
import { Migration20261205200000_audit_log } from './Migration20261205200000_audit_log.ts';
import { Migration20261207000000_email_verification } from './Migration20261207000000_email_verification.ts';
import { Migration20261207100000_account_lifecycle } from './Migration20261207100000_account_lifecycle.ts';
import { Migration20261207200000_operators } from './Migration20261207200000_operators.ts';
import { Migration20261207300000_email_preferences } from './Migration20261207300000_email_preferences.ts';
import { Migration20261210000000_job_run_quiet } from './Migration20261210000000_job_run_quiet.ts';

/** Every migration, in order. New migrations are appended here (no file discovery at run time). */
export const migrationsList = [
  { name: Migration20261123000000_init.name, class: Migration20261123000000_init },
  { name: Migration20261123100000_usage.name, class: Migration20261123100000_usage },
  { name: Migration20261123200000_ledger.name, class: Migration20261123200000_ledger },
  { name: Migration20261123300000_sessions.name, class: Migration20261123300000_sessions },
  { name: Migration20261123400000_outbox_failed.name, class: Migration20261123400000_outbox_failed },
  { name: Migration20261123500000_usage_ignored.name, class: Migration20261123500000_usage_ignored },
  {
    name: Migration20261203000000_allocation_extension.name,
    class: Migration20261203000000_allocation_extension,
  },
  {
    name: Migration20261203100000_no_plan_by_default.name,
    class: Migration20261203100000_no_plan_by_default,
  },
  { name: Migration20261204100000_credit_watch.name, class: Migration20261204100000_credit_watch },
  {
    name: Migration20261204300000_consumed_record_commit.name,
    class: Migration20261204300000_consumed_record_commit,
  },
  { name: Migration20261204200000_auto_renew.name, class: Migration20261204200000_auto_renew },
  { name: Migration20261204400000_password_reset.name, class: Migration20261204400000_password_reset },
  { name: Migration20261205000000_api_tokens.name, class: Migration20261205000000_api_tokens },
  { name: Migration20261205100000_invitations.name, class: Migration20261205100000_invitations },
  { name: Migration20261205200000_audit_log.name, class: Migration20261205200000_audit_log },
  {
    name: Migration20261207000000_email_verification.name,
    class: Migration20261207000000_email_verification,
  },
  {
    name: Migration20261207100000_account_lifecycle.name,
    class: Migration20261207100000_account_lifecycle,
  },
  { name: Migration20261207200000_operators.name, class: Migration20261207200000_operators },
  {
    name: Migration20261207300000_email_preferences.name,
    class: Migration20261207300000_email_preferences,
  },
  { name: Migration20261210000000_job_run_quiet.name, class: Migration20261210000000_job_run_quiet },
];
