import { describe, expect, it } from 'vitest';
import {
  amountCents,
  COMMANDS,
  commandHelp,
  currencyCode,
  defaultDisplayName,
  parseCommandLine,
} from './args.ts';
import { UsageError } from './errors.ts';

const usageError = (argv: string[]) => {
  try {
    parseCommandLine(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return (err as UsageError).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
};

describe('parseCommandLine', () => {
  it('parses every command with its options', () => {
    expect(parseCommandLine(['auto-release', '--once'])).toEqual({
      kind: 'run',
      command: { name: 'auto-release' },
      json: false,
    });
    expect(parseCommandLine(['pool', 'refresh', '--file', 'pool.json', '--json'])).toEqual({
      kind: 'run',
      command: { name: 'pool refresh', file: 'pool.json' },
      json: true,
    });
    expect(parseCommandLine(['pool', 'list', '--status=maintenance'])).toMatchObject({
      command: { name: 'pool list', status: 'MAINTENANCE' },
    });
    expect(
      parseCommandLine(['allocations', 'list', '--status', 'ACTIVE', '--user', 'u-1', '--limit', '250']),
    ).toMatchObject({ command: { name: 'allocations list', status: 'ACTIVE', userId: 'u-1', limit: 250 } });
    expect(parseCommandLine(['jobs', 'list', '--job', 'outbox'])).toMatchObject({
      command: { name: 'jobs list', job: 'outbox', limit: 20 },
    });
  });

  it('applies defaults: list limits, and the display name from the email', () => {
    expect(parseCommandLine(['allocations', 'list'])).toMatchObject({ command: { limit: 100 } });
    expect(parseCommandLine(['users', 'create', '--email', 'ada@example.org'])).toMatchObject({
      command: { name: 'users create', email: 'ada@example.org', displayName: 'ada' },
    });
    expect(
      parseCommandLine(['users', 'create', '--email', 'ada@example.org', '--name', 'Ada Lovelace']),
    ).toMatchObject({ command: { displayName: 'Ada Lovelace' } });
    expect(defaultDisplayName('first.last+tag@example.org')).toBe('first.last+tag');
    expect(defaultDisplayName('no-at-sign')).toBe('no-at-sign');
  });

  it('accepts --json before the command', () => {
    expect(parseCommandLine(['--json', 'pool', 'list'])).toMatchObject({ kind: 'run', json: true });
  });

  it('answers help globally, per group and per command, and the version', () => {
    const global = parseCommandLine(['--help']);
    expect(global.kind).toBe('help');
    for (const spec of COMMANDS) expect(global.kind === 'help' && global.text).toContain(spec.name);
    expect(parseCommandLine(['-h'])).toEqual(global);
    const group = parseCommandLine(['pool', '--help']);
    expect(group.kind === 'help' && group.text).toMatch(/pool refresh[\s\S]*pool list/);
    const command = parseCommandLine(['pool', 'list', '-h']);
    expect(command.kind === 'help' && command.text).toContain(
      'usage: hero-admin pool list [--status AVAILABLE|MAINTENANCE|RETIRED] [--json]',
    );
    // --help wins over missing required options
    expect(parseCommandLine(['users', 'create', '--help']).kind).toBe('help');
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });

  it('refuses bad usage with a usage error naming the problem', () => {
    expect(usageError([])).toMatch(/name a command/);
    expect(usageError(['frobnicate'])).toMatch(/unknown command "frobnicate"/);
    expect(usageError(['pool'])).toMatch(/pool: name a subcommand \(refresh, list\)/);
    expect(usageError(['pool', 'drain'])).toMatch(/unknown command "pool drain"/);
    expect(usageError(['pool', 'list', '--bogus'])).toMatch(/pool list: unknown option "--bogus"/);
    expect(usageError(['pool', 'list', 'extra'])).toMatch(/unexpected argument "extra"/);
    expect(usageError(['pool', 'list', '--status'])).toMatch(/--status needs a value/);
    expect(usageError(['pool', 'list', '--status', 'BROKEN'])).toMatch(
      /--status must be one of AVAILABLE, MAINTENANCE, RETIRED \(got "BROKEN"\)/,
    );
    expect(usageError(['pool', 'refresh'])).toMatch(/--file <path> is required/);
    expect(usageError(['users', 'create', '--email', ' '])).toMatch(/--email <email> is required/);
    expect(usageError(['allocations', 'list', '--limit', '0'])).toMatch(
      /--limit must be a positive whole number/,
    );
    expect(usageError(['jobs', 'list', '--limit', '2.5'])).toMatch(/--limit must be a positive whole number/);
    expect(usageError(['auto-release', '--once=yes'])).toMatch(/--once takes no value/);
    expect(usageError(['--frob', 'pool', 'list'])).toMatch(/unknown option "--frob"/);
  });

  it('auto-release without --once explains that the daemon is the worker', () => {
    expect(usageError(['auto-release'])).toMatch(/--once is required.*worker `auto-release`/);
  });

  it('documents every option of a command in its help', () => {
    for (const spec of COMMANDS) {
      const text = commandHelp(spec);
      for (const flag of [...Object.keys(spec.options), 'json', 'help']) expect(text).toContain(`--${flag}`);
    }
  });
});

describe('payments, plans and reconcile', () => {
  const record = ['payments', 'record', '--user', 'u-1', '--currency', 'EUR'];

  it('parses payments record with every option', () => {
    expect(
      parseCommandLine([
        ...record,
        '--amount-cents',
        '1250',
        '--ref',
        'pi_123',
        '--provider',
        'stripe',
        '--note',
        'first month',
        '--json',
      ]),
    ).toEqual({
      kind: 'run',
      command: {
        name: 'payments record',
        userId: 'u-1',
        amountCents: 1250,
        currency: 'EUR',
        providerRef: 'pi_123',
        provider: 'stripe',
        note: 'first month',
      },
      json: true,
    });
  });

  it('payments record: the optional options stay unset, the currency is upper-cased', () => {
    const parsed = parseCommandLine([
      'payments',
      'record',
      '--user',
      'u-1',
      '--amount-cents=1',
      '--currency',
      'chf',
    ]);
    expect(parsed).toEqual({
      kind: 'run',
      command: {
        name: 'payments record',
        userId: 'u-1',
        amountCents: 1,
        currency: 'CHF',
        provider: undefined,
        providerRef: undefined,
        note: undefined,
      },
      json: false,
    });
  });

  it('payments record: a missing or malformed --amount-cents is a usage error before any request', () => {
    expect(usageError(record)).toMatch(/^payments record: --amount-cents <n> is required/);
    for (const bad of ['12.50', '0', '1e3', 'abc', '+5', ' 5', '1,000', '0x10', '99999999999999999999'])
      expect(usageError([...record, `--amount-cents=${bad}`])).toBe(
        `payments record: --amount-cents must be a whole positive number of cents, e.g. 1250 for 12.50 (got "${bad}") (see hero-admin payments record --help)`,
      );
    expect(usageError([...record, '--amount-cents=-5'])).toMatch(
      /--amount-cents must be a whole positive number of cents.*\(got "-5"\)/,
    );
    // `-5` as a separate word looks like an option: said so, not "takes no value"
    expect(usageError([...record, '--amount-cents', '-5'])).toMatch(
      /^payments record: --amount-cents needs a value \(one starting with "-" is written --amount-cents=<value>\)/,
    );
    expect(usageError([...record, '--amount-cents'])).toMatch(/--amount-cents needs a value/);
  });

  it('payments record: the other required options and the currency code', () => {
    expect(usageError(['payments', 'record', '--amount-cents', '100', '--currency', 'EUR'])).toMatch(
      /--user <userId> is required/,
    );
    expect(usageError(['payments', 'record', '--user', 'u-1', '--amount-cents', '100'])).toMatch(
      /--currency <ISO code> is required/,
    );
    for (const bad of ['EURO', 'E1R', '€', 'eu'])
      expect(usageError([...record.slice(0, 4), '--amount-cents', '100', '--currency', bad])).toMatch(
        /--currency must be a three-letter ISO 4217 currency code such as EUR/,
      );
    expect(usageError([...record, '--amount-cents', '100', '--ref', ' '])).toMatch(
      /--ref <providerRef> is required/,
    );
  });

  it('parses payments refund, with and without an amount', () => {
    expect(parseCommandLine(['payments', 'refund', '--payment', 'p-1'])).toEqual({
      kind: 'run',
      command: { name: 'payments refund', paymentId: 'p-1', amountCents: undefined, note: undefined },
      json: false,
    });
    expect(
      parseCommandLine(['payments', 'refund', '--payment', 'p-1', '--amount-cents', '500', '--note', 'x']),
    ).toMatchObject({ command: { paymentId: 'p-1', amountCents: 500, note: 'x' } });
    expect(usageError(['payments', 'refund'])).toMatch(/--payment <paymentId> is required/);
    expect(usageError(['payments', 'refund', '--payment', 'p-1', '--amount-cents', '5.5'])).toMatch(
      /--amount-cents must be a whole positive number of cents/,
    );
    expect(usageError(['payments', 'refund', '--payment', 'p-1', '--amount-cents', '0'])).toMatch(
      /--amount-cents must be a whole positive number of cents/,
    );
  });

  it('parses payments list, plans list and reconcile', () => {
    expect(parseCommandLine(['payments', 'list'])).toMatchObject({
      command: { name: 'payments list', userId: undefined, limit: 50 },
    });
    expect(parseCommandLine(['payments', 'list', '--user', 'u-1', '--limit', '5'])).toMatchObject({
      command: { name: 'payments list', userId: 'u-1', limit: 5 },
    });
    expect(usageError(['payments', 'list', '--limit', '-1'])).toMatch(/--limit needs a value/);
    expect(usageError(['payments', 'list', '--limit=0'])).toMatch(/--limit must be a positive whole number/);
    expect(parseCommandLine(['plans', 'list', '--json'])).toEqual({
      kind: 'run',
      command: { name: 'plans list' },
      json: true,
    });
    expect(parseCommandLine(['reconcile'])).toEqual({
      kind: 'run',
      command: { name: 'reconcile' },
      json: false,
    });
  });

  it('refuses unknown subcommands and options', () => {
    expect(usageError(['payments'])).toMatch(/payments: name a subcommand \(record, refund, list\)/);
    expect(usageError(['payments', 'charge'])).toMatch(/unknown command "payments charge"/);
    expect(usageError(['plans', 'buy'])).toMatch(/unknown command "plans buy"/);
    expect(usageError(['plans', 'list', '--user', 'u-1'])).toMatch(/plans list: unknown option "--user"/);
    expect(usageError(['reconcile', '--once'])).toMatch(/reconcile: unknown option "--once"/);
    expect(usageError(['reconcile', 'now'])).toMatch(/unexpected argument "now"/);
  });

  it('shows the usage lines with required and optional options', () => {
    const help = (argv: string[]) => {
      const parsed = parseCommandLine(argv);
      return parsed.kind === 'help' ? parsed.text : '';
    };
    expect(help(['payments', 'record', '--help'])).toContain(
      'usage: hero-admin payments record --user <userId> --amount-cents <n> --currency <ISO code> [--ref <providerRef>] [--provider <name>] [--note <text>] [--json]',
    );
    expect(help(['payments', 'refund', '-h'])).toContain(
      'usage: hero-admin payments refund --payment <paymentId> [--amount-cents <n>] [--note <text>] [--json]',
    );
    expect(help(['payments', '--help'])).toMatch(/payments record[\s\S]*payments refund[\s\S]*payments list/);
    expect(help(['reconcile', '--help'])).toMatch(/Exits 1 when any\s+balance drifted/);
    expect(help(['--help'])).toMatch(/reconcile: 1 also when any balance drifted/);
  });

  it('amountCents and currencyCode', () => {
    expect(amountCents('amount-cents', '007')).toBe(7);
    expect(amountCents('amount-cents', String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => amountCents('amount-cents', String(Number.MAX_SAFE_INTEGER + 2))).toThrow(UsageError);
    expect(currencyCode('currency', 'usd')).toBe('USD');
  });
});
