import { graphql, type ResultOf } from '@hero/graphql';
import { defineCommand } from '../command.ts';
import { CliError, printable } from '../errors.ts';
import { formatJson, formatKeyValues } from '../format.ts';

export const RECONCILE_BALANCES_NOW = graphql(`mutation ReconcileBalancesNow {
  reconcileBalancesNow {
    usersChecked usersDrifted totalDriftCents chainBreaks
    drifted { userId user { email } balanceCents ledgerCents driftCents }
    usageUsersChecked usageUsersDrifted usageTotalDriftCents
    usageDrifted { userId user { email } ledgerUsageCents consumedCents driftCents }
  }
}`);

type ReconcileSummary = ResultOf<typeof RECONCILE_BALANCES_NOW>['reconcileBalancesNow'];

/** `<userId> (<email>)`; the id alone for a user no longer there. */
function whose(d: { userId: string; user: { email: string } | null }): string {
  return printable(d.user ? `${d.userId} (${d.user.email})` : d.userId);
}

function formatReconcileSummary(summary: ReconcileSummary): string {
  let text = formatKeyValues([
    ['usersChecked', summary.usersChecked],
    ['usersDrifted', summary.usersDrifted],
    ['totalDriftCents', summary.totalDriftCents],
    ['chainBreaks', summary.chainBreaks],
  ]);
  for (const d of summary.drifted)
    text += `${whose(d)} balance ${d.balanceCents} ledger ${d.ledgerCents} drift ${d.driftCents}\n`;
  // the API lists the first few drifted users only; the counts cover all of them
  const unlisted = summary.usersDrifted - summary.drifted.length;
  if (unlisted > 0) text += `(${unlisted} more drifted user${unlisted === 1 ? '' : 's'} not listed)\n`;
  text += formatKeyValues([
    ['usageUsersChecked', summary.usageUsersChecked],
    ['usageUsersDrifted', summary.usageUsersDrifted],
    ['usageTotalDriftCents', summary.usageTotalDriftCents],
  ]);
  for (const d of summary.usageDrifted)
    text += `${whose(d)} usage ledger ${d.ledgerUsageCents} consumed ${d.consumedCents} drift ${d.driftCents}\n`;
  const unlistedUsage = summary.usageUsersDrifted - summary.usageDrifted.length;
  if (unlistedUsage > 0)
    text += `(${unlistedUsage} more user${unlistedUsage === 1 ? '' : 's'} with usage drift not listed)\n`;
  return text;
}

/** The failure (exit 1) for a summary with drift, so that a script can alert on it; none: undefined. */
function drift(summary: ReconcileSummary): CliError | undefined {
  if (summary.usersDrifted > 0) {
    const users = `${summary.usersDrifted} user${summary.usersDrifted === 1 ? '' : 's'}`;
    return new CliError(
      `${users} with a balance that differs from the ledger (total drift ${summary.totalDriftCents} cents)`,
    );
  }
  if (summary.usageUsersDrifted > 0) {
    const users = `${summary.usageUsersDrifted} user${summary.usageUsersDrifted === 1 ? '' : 's'}`;
    return new CliError(
      `${users} whose usage debits on the ledger differ from their consumed usage records (total drift ${summary.usageTotalDriftCents} cents)`,
    );
  }
  if (summary.chainBreaks > 0) {
    return new CliError(
      `${summary.chainBreaks} ledger row${summary.chainBreaks === 1 ? '' : 's'} whose balance after does not follow from the row before (a lost or doubled ledger row)`,
    );
  }
  return undefined;
}

export const reconcile = defineCommand({
  name: 'reconcile',
  summary: 'check every balance against its ledger now and print the drift',
  description:
    "Compares every user's balance with the sum of the user's ledger, and the user's usage debits on\n" +
    'the ledger with the sum of the consumed usage records (mutation reconcileBalancesNow), and prints\n' +
    'usersChecked, usersDrifted, totalDriftCents, chainBreaks and one line per drifted user\n' +
    '(<userId> (<email>) balance <cents> ledger <cents> drift <cents>), then usageUsersChecked,\n' +
    'usageUsersDrifted, usageTotalDriftCents and one line per user with usage drift\n' +
    '(<userId> (<email>) usage ledger <cents> consumed <cents> drift <cents>). Changes nothing.\n' +
    'Exits 1 when any balance drifted, any usage debits drifted from their records or a ledger row\n' +
    'is lost or doubled (chainBreaks), so scripts and monitoring can alert on it; 0 when every\n' +
    "balance matches its ledger and every user's usage debits the sum of their consumed records.",
  options: {},
  parse: () => ({}),
  uses: 'api',
  /** Prints the summary (amounts in cents: drift is per user and the summary has no currency), then fails on drift. */
  async run({ client, json, io }) {
    const { reconcileBalancesNow: summary } = await client.request(RECONCILE_BALANCES_NOW);
    io.out(json ? formatJson(summary) : formatReconcileSummary(summary));
    const failure = drift(summary);
    if (failure) throw failure;
  },
});
