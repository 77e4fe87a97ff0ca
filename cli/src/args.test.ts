import { describe, expect, it } from 'vitest';
import { COMMANDS, commandHelp, defaultDisplayName, parseCommandLine } from './args.ts';
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
