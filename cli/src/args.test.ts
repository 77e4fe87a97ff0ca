import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './args.ts';
import { COMMANDS } from './commands/index.ts';
import { defaultDisplayName } from './commands/users.ts';
import { commandHelp } from './help.ts';
import { usageError } from './testing.ts';

const U1 = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';

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
      parseCommandLine(['allocations', 'list', '--status', 'ACTIVE', '--user', U1, '--limit', '250']),
    ).toMatchObject({
      command: { name: 'allocations list', status: 'ACTIVE', user: { id: U1 }, limit: 250 },
    });
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
  it('parses payments list, plans list and reconcile', () => {
    expect(parseCommandLine(['payments', 'list'])).toMatchObject({
      command: { name: 'payments list', user: undefined, limit: 50 },
    });
    expect(parseCommandLine(['payments', 'list', '--user', 'Ada@Example.org', '--limit', '5'])).toMatchObject(
      {
        command: { name: 'payments list', user: { email: 'ada@example.org' }, limit: 5 },
      },
    );
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
      'usage: hero-admin payments record --user <email|id> --amount-cents <n> --currency <ISO code> [--ref <providerRef>] [--provider <name>] [--note <text>] [--json]',
    );
    expect(help(['payments', 'refund', '-h'])).toContain(
      'usage: hero-admin payments refund --payment <paymentId> [--amount-cents <n>] [--note <text>] [--json]',
    );
    expect(help(['payments', '--help'])).toMatch(/payments record[\s\S]*payments refund[\s\S]*payments list/);
    expect(help(['reconcile', '--help'])).toMatch(/Exits 1 when any\s+balance drifted/);
    expect(help(['--help'])).toMatch(/reconcile: 1 also when any balance drifted/);
  });
});
