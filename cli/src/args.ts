import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

export const POOL_VM_STATUSES = ['AVAILABLE', 'MAINTENANCE', 'RETIRED'] as const;
export const ALLOCATION_STATUSES = ['ACTIVE', 'RELEASED'] as const;
export type PoolVmStatus = (typeof POOL_VM_STATUSES)[number];
export type AllocationStatus = (typeof ALLOCATION_STATUSES)[number];

export const DEFAULT_ALLOCATIONS_LIMIT = 100;
export const DEFAULT_JOBS_LIMIT = 20;
export const DEFAULT_PAYMENTS_LIMIT = 50;

export type Command =
  | { name: 'auto-release' }
  | { name: 'pool refresh'; file: string }
  | { name: 'pool list'; status?: PoolVmStatus }
  | { name: 'allocations list'; status?: AllocationStatus; userId?: string; limit: number }
  | { name: 'users create'; email: string; displayName: string }
  | { name: 'jobs list'; job?: string; limit: number }
  | { name: 'aggregate' }
  | { name: 'usage push'; node: string; file: string; message?: string }
  | {
      name: 'payments record';
      userId: string;
      amountCents: number;
      currency: string;
      provider?: string;
      providerRef?: string;
      note?: string;
    }
  | { name: 'payments refund'; paymentId: string; amountCents?: number; note?: string }
  | { name: 'payments list'; userId?: string; limit: number }
  | { name: 'plans list' }
  | { name: 'reconcile' };

export type Invocation =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'run'; command: Command; json: boolean };

interface OptionSpec {
  type: 'string' | 'boolean';
  /** For --help: the value's placeholder and what the option does. */
  value?: string;
  help: string;
}

type Values = Record<string, string | boolean | undefined>;

interface CommandSpec {
  name: Command['name'];
  summary: string;
  /** Longer text under the usage line. */
  description?: string;
  options: Record<string, OptionSpec>;
  build(values: Values): Command;
}

const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'print JSON on stdout instead of a table' },
  help: { type: 'boolean', help: 'show this help' },
};

function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  if (!(allowed as readonly string[]).includes(upper))
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got "${value}")`);
  return upper as T;
}

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`--${flag} must be a positive whole number (got "${value}")`);
  return Number(value);
}

function required(flag: string, value: string | undefined, what: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`--${flag} ${what} is required`);
  return value;
}

/** An optional string option: absent stays undefined, given it must not be blank (trimmed). */
function optional(flag: string, value: string | undefined, what: string): string | undefined {
  return value === undefined ? undefined : required(flag, value, what).trim();
}

/**
 * An amount of money on the command line: integer cents (minor units), a whole number >= 1.
 * `12.50`, `1e3`, `-5`, `0` and `+5` are refused before any request is made.
 */
export function amountCents(flag: string, value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || !Number.isSafeInteger(n))
    throw new UsageError(
      `--${flag} must be a whole positive number of cents, e.g. 1250 for 12.50 (got "${value}")`,
    );
  return n;
}

/** An ISO 4217 currency code: three letters, answered upper-case (`eur` → `EUR`). */
export function currencyCode(flag: string, value: string): string {
  const code = value.trim();
  if (!/^[A-Za-z]{3}$/.test(code))
    throw new UsageError(
      `--${flag} must be a three-letter ISO 4217 currency code such as EUR (got "${value}")`,
    );
  return code.toUpperCase();
}

/** The display name a new user gets without --name: the email's local part. */
export function defaultDisplayName(email: string): string {
  const at = email.lastIndexOf('@');
  return at > 0 ? email.slice(0, at) : email;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'auto-release',
    summary: 'release expired allocations now (one run) and print its summary',
    description:
      'Runs the auto-release job once through the API (mutation autoReleaseNow). --once is required:\n' +
      'the scheduled auto-release daemon is the worker `auto-release` (workers/src/main.ts auto-release).',
    options: { once: { type: 'boolean', help: 'run one auto-release now (required)' } },
    build(values) {
      if (!values.once)
        throw new UsageError(
          '--once is required: one run now is the only mode here (the scheduled daemon is the worker `auto-release`)',
        );
      return { name: 'auto-release' };
    },
  },
  {
    name: 'aggregate',
    summary: 'aggregate usage from the billing repository now (one run) and print its summary',
    description:
      'Runs the aggregation once through the API (mutation aggregateNow) and shows a progress bar on a\n' +
      'terminal (from the RUNNING job run). --once is required: the scheduled daemon is the worker\n' +
      '`aggregate` (workers/src/main.ts aggregate). A run already in progress answers ALREADY_RUNNING.',
    options: { once: { type: 'boolean', help: 'run one aggregation now (required)' } },
    build(values) {
      if (!values.once)
        throw new UsageError(
          '--once is required: one run now is the only mode here (the scheduled daemon is the worker `aggregate`)',
        );
      return { name: 'aggregate' };
    },
  },
  {
    name: 'usage push',
    summary: 'write a usage batch file into the billing repository, as a node does',
    description:
      "Checks the file with the aggregator's parser, then writes it to nodes/<node>/<file name> on\n" +
      'BILLING_BRANCH as one commit: through the forge contents API (USAGE_SOURCE=forge) or a git commit\n' +
      'pushed to BILLING_GIT_URL (USAGE_SOURCE=git). The file name must be usage_<YYYY-MM-DD-HH>.otoml.\n' +
      'A file that does not parse, or has records that would be rejected, is refused (every problem is\n' +
      'printed, exit 1) and nothing is written. Talks to the repository, not to the API.',
    options: {
      node: { type: 'string', value: '<node>', help: 'the node directory under nodes/, required' },
      file: { type: 'string', value: '<path>', help: 'the batch file (TOML), required' },
      message: {
        type: 'string',
        value: '<text>',
        help: 'commit message (default "usage: <node> <file name>")',
      },
    },
    build: (values) => ({
      name: 'usage push',
      node: required('node', values.node as string | undefined, '<node>').trim(),
      file: required('file', values.file as string | undefined, '<path>'),
      message: values.message as string | undefined,
    }),
  },
  {
    name: 'pool refresh',
    summary: 'reconcile the pool with a manifest file',
    description:
      'Sends the manifest (a JSON array of pool VMs, or { "pool": [...] }) to refreshPool: listed VMs\n' +
      'are upserted, unlisted ones become RETIRED. An invalid manifest is refused whole (every problem\n' +
      'is printed to stderr, exit 1) and the pool is left unchanged.',
    options: { file: { type: 'string', value: '<path>', help: 'the pool manifest (JSON), required' } },
    build: (values) => ({
      name: 'pool refresh',
      file: required('file', values.file as string | undefined, '<path>'),
    }),
  },
  {
    name: 'pool list',
    summary: 'list the pool VMs (RETIRED ones included)',
    options: {
      status: { type: 'string', value: POOL_VM_STATUSES.join('|'), help: 'only VMs with this status' },
    },
    build: (values) => ({
      name: 'pool list',
      status: oneOf('status', values.status as string | undefined, POOL_VM_STATUSES),
    }),
  },
  {
    name: 'allocations list',
    summary: 'list allocations, newest first',
    options: {
      status: {
        type: 'string',
        value: ALLOCATION_STATUSES.join('|'),
        help: 'only allocations with this status',
      },
      user: { type: 'string', value: '<id>', help: "only this user's allocations" },
      limit: {
        type: 'string',
        value: '<n>',
        help: `at most this many (default ${DEFAULT_ALLOCATIONS_LIMIT}; pages are followed)`,
      },
    },
    build: (values) => ({
      name: 'allocations list',
      status: oneOf('status', values.status as string | undefined, ALLOCATION_STATUSES),
      userId: values.user === undefined ? undefined : required('user', values.user as string, '<id>'),
      limit: positiveInt('limit', values.limit as string | undefined, DEFAULT_ALLOCATIONS_LIMIT),
    }),
  },
  {
    name: 'users create',
    summary: 'create a user and print its API token (shown once)',
    options: {
      email: { type: 'string', value: '<email>', help: "the user's email, required" },
      name: {
        type: 'string',
        value: '<display name>',
        help: "display name (default: the email's local part)",
      },
    },
    build(values) {
      const email = required('email', values.email as string | undefined, '<email>').trim();
      const name = (values.name as string | undefined)?.trim();
      return { name: 'users create', email, displayName: name || defaultDisplayName(email) };
    },
  },
  {
    name: 'jobs list',
    summary: 'list recent job runs, newest first',
    options: {
      job: { type: 'string', value: '<name>', help: 'only runs of this job (e.g. outbox, auto-release)' },
      limit: {
        type: 'string',
        value: '<n>',
        help: `at most this many (default ${DEFAULT_JOBS_LIMIT}; pages are followed)`,
      },
    },
    build: (values) => ({
      name: 'jobs list',
      job: values.job === undefined ? undefined : required('job', values.job as string, '<name>'),
      limit: positiveInt('limit', values.limit as string | undefined, DEFAULT_JOBS_LIMIT),
    }),
  },
  {
    name: 'payments record',
    summary: "record a payment received for a user (credits the user's balance)",
    description:
      "Records money that came in (mutation recordPayment) and credits it to the user's balance, in\n" +
      "the balance's currency (another currency is refused: CURRENCY_MISMATCH). Amounts are integer\n" +
      'cents: --amount-cents 1250 is 12.50. A provider reference already recorded for the same provider\n' +
      'is refused (DUPLICATE_PAYMENT), so recording the same payment twice credits it once.\n' +
      'Prints the payment and the new balance.',
    options: {
      user: { type: 'string', value: '<userId>', help: 'the user who paid, required' },
      'amount-cents': {
        type: 'string',
        value: '<n>',
        help: 'the amount in cents, a whole number >= 1 (1250 = 12.50), required',
      },
      currency: { type: 'string', value: '<ISO code>', help: 'the currency (e.g. EUR), required' },
      ref: {
        type: 'string',
        value: '<providerRef>',
        help: "the provider's reference, unique per provider (default: <provider>-<random UUID>)",
      },
      provider: {
        type: 'string',
        value: '<name>',
        help: 'who took the payment: lowercase letters, digits, - or _ (default manual)',
      },
      note: { type: 'string', value: '<text>', help: 'a note kept with the payment' },
    },
    build: (values) => ({
      name: 'payments record',
      userId: required('user', values.user as string | undefined, '<userId>').trim(),
      amountCents: amountCents(
        'amount-cents',
        required('amount-cents', values['amount-cents'] as string | undefined, '<n>'),
      ),
      currency: currencyCode(
        'currency',
        required('currency', values.currency as string | undefined, '<ISO code>'),
      ),
      provider: optional('provider', values.provider as string | undefined, '<name>'),
      providerRef: optional('ref', values.ref as string | undefined, '<providerRef>'),
      note: optional('note', values.note as string | undefined, '<text>'),
    }),
  },
  {
    name: 'payments refund',
    summary: 'refund (part of) a payment and debit it from the balance',
    description:
      'Refunds a recorded payment (mutation refundPayment): --amount-cents of it, or without it\n' +
      'everything not yet refunded. More than what is left of the payment is refused\n' +
      '(REFUND_EXCEEDS_PAYMENT). Prints the refund event and the new balance.',
    options: {
      payment: { type: 'string', value: '<paymentId>', help: 'the payment to refund, required' },
      'amount-cents': {
        type: 'string',
        value: '<n>',
        help: 'how much to refund, in cents (default: everything not yet refunded)',
      },
      note: { type: 'string', value: '<text>', help: 'a note kept with the refund' },
    },
    build(values) {
      const amount = values['amount-cents'] as string | undefined;
      return {
        name: 'payments refund',
        paymentId: required('payment', values.payment as string | undefined, '<paymentId>').trim(),
        amountCents: amount === undefined ? undefined : amountCents('amount-cents', amount),
        note: optional('note', values.note as string | undefined, '<text>'),
      };
    },
  },
  {
    name: 'payments list',
    summary: 'list payments and refunds, newest first',
    options: {
      user: { type: 'string', value: '<userId>', help: "only this user's payments" },
      limit: {
        type: 'string',
        value: '<n>',
        help: `at most this many (default ${DEFAULT_PAYMENTS_LIMIT}; pages are followed)`,
      },
    },
    build: (values) => ({
      name: 'payments list',
      userId: optional('user', values.user as string | undefined, '<userId>'),
      limit: positiveInt('limit', values.limit as string | undefined, DEFAULT_PAYMENTS_LIMIT),
    }),
  },
  {
    name: 'plans list',
    summary: 'list the plans on sale, with their prices and discounts',
    description:
      'The plans the API is configured with (PLANS_JSON): quota, period, price per period, and the\n' +
      'discount for buying several periods at once (periods:percent, e.g. 1:0% 3:5% 12:15%).',
    options: {},
    build: () => ({ name: 'plans list' }),
  },
  {
    name: 'reconcile',
    summary: 'check every balance against its ledger now and print the drift',
    description:
      "Compares every user's balance with the sum of the user's ledger, and the user's usage debits on\n" +
      'the ledger with the sum of the consumed usage records (mutation reconcileBalancesNow), and prints\n' +
      'usersChecked, usersDrifted, totalDriftCents, chainBreaks and one line per drifted user\n' +
      '(<userId> balance <cents> ledger <cents> drift <cents>), then usageUsersChecked, usageUsersDrifted,\n' +
      'usageTotalDriftCents and one line per user with usage drift (<userId> usage ledger <cents>\n' +
      'consumed <cents> drift <cents>). Changes nothing. Exits 1 when any balance drifted, any usage\n' +
      'debits drifted from their records or a ledger row is lost or doubled (chainBreaks), so scripts\n' +
      "and monitoring can alert on it; 0 when every balance matches its ledger and every user's usage\n" +
      'debits the sum of their consumed records.',
    options: {},
    build: () => ({ name: 'reconcile' }),
  },
];

const GROUPS = [
  ...new Set(COMMANDS.map((c) => c.name.split(' ')).flatMap((w) => (w.length > 1 ? [w[0]] : []))),
];

function usageLine(spec: CommandSpec): string {
  const parts = Object.entries(spec.options).map(([flag, o]) => {
    const text = `--${flag}${o.value ? ` ${o.value}` : ''}`;
    return /required/.test(o.help) ? text : `[${text}]`;
  });
  return ['hero-admin', spec.name, ...parts, '[--json]'].join(' ');
}

function optionLines(options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([flag, o]) => [
    `${flag === 'help' ? '-h, ' : ''}--${flag}${o.value ? ` ${o.value}` : ''}`,
    o.help,
  ]);
  const w = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}\n`).join('');
}

export function commandHelp(spec: CommandSpec): string {
  return (
    `usage: ${usageLine(spec)}\n\n${spec.summary}\n` +
    (spec.description ? `\n${spec.description}\n` : '') +
    `\noptions:\n${optionLines({ ...spec.options, ...COMMON_OPTIONS })}`
  );
}

function groupHelp(group: string): string {
  const specs = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const w = Math.max(...specs.map((s) => s.name.length));
  return (
    `usage: hero-admin ${group} <${specs.map((s) => s.name.split(' ')[1]).join('|')}> [options]\n\n` +
    `commands:\n${specs.map((s) => `  ${s.name.padEnd(w)}  ${s.summary}\n`).join('')}\n` +
    `Run 'hero-admin ${group} <command> --help' for a command's options.\n`
  );
}

export function globalHelp(): string {
  const w = Math.max(...COMMANDS.map((s) => s.name.length));
  return `hero-admin: operate the hero-onboarding API as an admin (over HTTP, x-admin-secret)

usage: hero-admin <command> [options]

commands:
${COMMANDS.map((s) => `  ${s.name.padEnd(w)}  ${s.summary}\n`).join('')}
options (every command):
  --json            print JSON on stdout instead of a table
  -h, --help        show help (also per command: hero-admin pool list --help)
  --version         print the version

environment:
  HERO_API_URL         the API's base URL (default http://127.0.0.1:4000); requests go to <url>/graphql
  HERO_API_TIMEOUT_MS  limit for one API call in ms (default 60000)
  ADMIN_SECRET         the admin secret, required (or ADMIN_SECRET_FILE: a file holding it)
  usage push only (not the API): USAGE_SOURCE (git|forge), BILLING_GIT_URL, FORGE_URL,
  FORGE_TOKEN (or FORGE_TOKEN_FILE), BILLING_REPO, BILLING_BRANCH (default main)

exit codes: 0 done, 1 failed (API error, refused input, API unreachable, bad configuration), 2 usage error;
  reconcile: 1 also when any balance drifted from its ledger, or usage debits from consumed records
`;
}

const GLOBAL_FLAGS = new Set(['--json', '--help', '-h', '--version']);

/** Parses the command line (without node and the script). Throws UsageError (exit 2). */
export function parseCommandLine(argv: string[]): Invocation {
  let i = 0;
  const leading: string[] = [];
  while (i < argv.length && argv[i].startsWith('-')) {
    if (!GLOBAL_FLAGS.has(argv[i]))
      throw new UsageError(`unknown option "${argv[i]}" (see hero-admin --help)`);
    leading.push(argv[i++]);
  }
  const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');
  const first = argv[i];
  if (first === undefined) {
    if (wantsHelp(leading)) return { kind: 'help', text: globalHelp() };
    if (leading.includes('--version')) return { kind: 'version' };
    throw new UsageError('name a command (see hero-admin --help)');
  }
  if (first === 'help') return { kind: 'help', text: globalHelp() };

  let spec = COMMANDS.find((c) => c.name === first);
  let rest = argv.slice(i + 1);
  if (!spec && GROUPS.includes(first)) {
    const sub = argv[i + 1];
    if (sub === undefined || sub.startsWith('-')) {
      if (wantsHelp([...leading, ...rest])) return { kind: 'help', text: groupHelp(first) };
      const subs = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]);
      throw new UsageError(
        `${first}: name a subcommand (${subs.join(', ')}); see hero-admin ${first} --help`,
      );
    }
    spec = COMMANDS.find((c) => c.name === `${first} ${sub}`);
    if (!spec) throw new UsageError(`unknown command "${first} ${sub}" (see hero-admin ${first} --help)`);
    rest = argv.slice(i + 2);
  }
  if (!spec) throw new UsageError(`unknown command "${first}" (see hero-admin --help)`);

  const options = Object.fromEntries(
    Object.entries({ ...spec.options, ...COMMON_OPTIONS }).map(([flag, o]) => [
      flag,
      flag === 'help' ? { type: o.type, short: 'h' } : { type: o.type },
    ]),
  );
  let values: Values;
  try {
    ({ values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false }) as {
      values: Values;
    });
  } catch (err) {
    throw new UsageError(`${spec.name}: ${parseArgsMessage(err)} (see hero-admin ${spec.name} --help)`);
  }
  if (values.help || wantsHelp(leading)) return { kind: 'help', text: commandHelp(spec) };
  let command: Command;
  try {
    command = spec.build(values);
  } catch (err) {
    if (err instanceof UsageError)
      throw new UsageError(`${spec.name}: ${err.message} (see hero-admin ${spec.name} --help)`);
    throw err;
  }
  return { kind: 'run', command, json: Boolean(values.json) || leading.includes('--json') };
}

/** node:util parseArgs messages, shortened to what a person needs. */
function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(e.message ?? '')?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option "${quoted}"`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /--[a-z-]+/.exec(e.message ?? '')?.[0] ?? quoted;
      if (/argument missing/.test(e.message ?? '')) return `${flag} needs a value`;
      // `--amount-cents -5`, `--status --json`: the next word looks like an option.
      if (/ambiguous/.test(e.message ?? ''))
        return `${flag} needs a value (one starting with "-" is written ${flag}=<value>)`;
      return `${flag} takes no value`;
    }
    default:
      return e.message ?? String(err);
  }
}
