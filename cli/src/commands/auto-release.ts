import { graphql } from '@hero/graphql';
import { defineCommand } from '../command.ts';
import { UsageError } from '../errors.ts';
import { formatJson, formatRunSummary } from '../format.ts';

export const AUTO_RELEASE_NOW = graphql(`mutation AutoReleaseNow {
  autoReleaseNow { rowsExamined rowsExpired rowsReleased rowsAlreadyReleased expiryWarnings plansRenewed planExpiringNotices errors
    credit { usersChanged lowEvents lowRecovered negativeEvents releaseWarnings creditReleased creditReleaseDeferred creditReleaseSkipped errors } }
}`);

export const autoRelease = defineCommand({
  name: 'auto-release',
  summary: 'renew due plans and release expired allocations now (one run); print its summary',
  description:
    'Runs the auto-release job once through the API (mutation autoReleaseNow). --once is required:\n' +
    'the scheduled auto-release daemon is the worker `auto-release` (workers/src/main.ts auto-release).',
  options: { once: { type: 'boolean', required: true, help: 'run one auto-release now (required)' } },
  parse(values) {
    if (!values.flag('once'))
      throw new UsageError(
        '--once is required: one run now is the only mode here (the scheduled daemon is the worker `auto-release`)',
      );
    return {};
  },
  uses: 'api',
  async run({ client, json, io }) {
    const { autoReleaseNow: summary } = await client.request(AUTO_RELEASE_NOW);
    io.out(json ? formatJson(summary) : formatRunSummary(summary));
  },
});
