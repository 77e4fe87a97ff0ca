/**
 * The sign-up trial an operator may offer (`SIGNUP_TRIAL`): a new account starts with a plan
 * period of `hours` and a quota of `vmQuota`, so it can get a VM at once. Written as people say
 * it: `1 VM for 24h`, `2 VMs for 7d`; `off` (or nothing) for none.
 */
export interface SignupTrial {
  vmQuota: number;
  hours: number;
}

const TRIAL = /^(\d{1,4})\s*vms?\s+for\s+(\d{1,5})\s*(h|d)$/i;

/** The trial `text` describes, null for `off`/empty; an Error saying the format otherwise. */
export function parseSignupTrial(text: string): SignupTrial | null {
  const trimmed = text.trim();
  if (trimmed === '' || /^(off|none|0)$/i.test(trimmed)) return null;
  const match = TRIAL.exec(trimmed);
  const vmQuota = match ? Number(match[1]) : 0;
  const hours = match ? Number(match[2]) * (match[3].toLowerCase() === 'd' ? 24 : 1) : 0;
  if (!match || vmQuota < 1 || vmQuota > 10_000 || hours < 1 || hours > 366 * 24)
    throw new Error(
      `must read "<n> VM for <hours>h" or "<n> VMs for <days>d" (1 to 10000 VMs, 1 hour to 366 days), or "off"; got "${text}"`,
    );
  return { vmQuota, hours };
}

/** What a trial gives an account made at `now`. */
export function trialPlan(trial: SignupTrial, now = new Date()): { vmQuota: number; periodEnd: Date } {
  return { vmQuota: trial.vmQuota, periodEnd: new Date(now.getTime() + trial.hours * 3_600_000) };
}

/** The trial in the words of the setting (`1 VM for 24h`), for banners and docs. */
export function describeSignupTrial(trial: SignupTrial | null): string {
  if (!trial) return 'off';
  const span = trial.hours % 24 === 0 ? `${trial.hours / 24}d` : `${trial.hours}h`;
  return `${trial.vmQuota} VM${trial.vmQuota === 1 ? '' : 's'} for ${span}`;
}
