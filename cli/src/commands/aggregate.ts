import { graphql } from '@hero/graphql';
import { type ApiContext, defineCommand } from '../command.ts';
import { printable, UsageError } from '../errors.ts';
import { formatJson, formatRunSummary } from '../format.ts';

export const AGGREGATE_NOW = graphql(`mutation AggregateNow {
  aggregateNow {
    nodesSeen nodesSkipped nodesFailed filesRead recordsSeen recordsApplied recordsDuplicate recordsRejected
    centsDebited ignoredFiles ignoredFileList { path reason } errors
  }
}`);

export const RUNNING_AGGREGATION = graphql(`query RunningAggregation {
  jobRuns(job: "aggregate", first: 1) { edges { node { id status progress } } }
}`);

/** What the aggregator reports in `JobRun.progress` (JSON in the schema, so not typed by it). */
interface AggregationProgress {
  nodesDone: number;
  nodesTotal: number;
  filesRead: number;
  recordsApplied: number;
}

/** While `work` runs: polls the RUNNING aggregation's progress and draws it on a terminal. */
async function withProgressBar<T>(ctx: ApiContext, work: Promise<T>): Promise<T> {
  const stream = ctx.io.progress;
  if (!stream) return work;
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      stream,
      format:
        'aggregating |{bar}| {value}/{total} nodes | {filesRead} files | {recordsApplied} records applied',
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  let done = false;
  const poll = async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 300));
      if (done) break;
      try {
        const data = await ctx.client.request(RUNNING_AGGREGATION);
        const run = data.jobRuns.edges[0]?.node;
        const p = run?.status === 'RUNNING' ? (run.progress as AggregationProgress | null) : null;
        if (!p || done) continue;
        const payload = { filesRead: p.filesRead, recordsApplied: p.recordsApplied };
        if (!started) {
          bar.start(p.nodesTotal, p.nodesDone, payload);
          started = true;
        } else {
          bar.setTotal(p.nodesTotal);
          bar.update(p.nodesDone, payload);
        }
      } catch {
        // Progress is a nicety: the run's own answer decides the outcome.
      }
    }
  };
  const polling = poll();
  try {
    return await work;
  } finally {
    done = true;
    await polling;
    if (started) bar.stop();
  }
}

export const aggregate = defineCommand({
  name: 'aggregate',
  summary: 'aggregate usage from the billing repository now (one run) and print its summary',
  description:
    'Runs the aggregation once through the API (mutation aggregateNow) and shows a progress bar on a\n' +
    'terminal (from the RUNNING job run). --once is required: the scheduled daemon is the worker\n' +
    '`aggregate` (workers/src/main.ts aggregate). A run already in progress answers ALREADY_RUNNING.',
  options: { once: { type: 'boolean', required: true, help: 'run one aggregation now (required)' } },
  parse(values) {
    if (!values.flag('once'))
      throw new UsageError(
        '--once is required: one run now is the only mode here (the scheduled daemon is the worker `aggregate`)',
      );
    return {};
  },
  uses: 'api',
  async run(ctx) {
    const { client, json, io } = ctx;
    const { aggregateNow: summary } = await withProgressBar(ctx, client.request(AGGREGATE_NOW));
    if (json) return io.out(formatJson(summary));
    io.out(formatRunSummary(summary));
    // What is under nodes/ but not read as usage: reported so it is not lost without a trace.
    for (const f of summary.ignoredFileList)
      io.out(`  ignored ${printable(f.path)}: ${printable(f.reason)}\n`);
    const unlisted = summary.ignoredFiles - summary.ignoredFileList.length;
    if (unlisted > 0) io.out(`  (${unlisted} more ignored file${unlisted === 1 ? '' : 's'} not listed)\n`);
  },
});
