import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { type CommandDefinition, type OptionSpec, OptionValues } from './command.ts';
import { COMMANDS, type Command } from './commands/index.ts';
import { UsageError } from './errors.ts';
import { COMMON_OPTIONS, commandHelp, globalHelp, groupHelp } from './help.ts';

export type Invocation =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'run'; command: Command; json: boolean };

/** What may come before the command: `hero-admin --json pool list`, `hero-admin --version`. */
const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies ParseArgsOptionsConfig;

const GROUPS = new Set(
  COMMANDS.flatMap((c) => {
    const words = c.name.split(' ');
    return words.length > 1 ? [words[0]] : [];
  }),
);

type Values = Record<string, string | boolean | undefined>;

/** parseArgs in strict mode, no positionals; its errors as usage errors `<context>: <problem> (see <help>)`. */
function parseStrict(args: string[], options: ParseArgsOptionsConfig, context: string, help: string): Values {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    throw new UsageError(`${context}${parseArgsMessage(err)} (see ${help})`);
  }
}

/** Whether `args` ask for help (-h/--help among them), whatever else they hold. */
function asksForHelp(args: string[]): boolean {
  const { values } = parseArgs({
    args,
    options: { help: GLOBAL_OPTIONS.help },
    strict: false,
    allowPositionals: true,
  });
  return values.help === true;
}

function commandOptions(def: CommandDefinition): ParseArgsOptionsConfig {
  return Object.fromEntries(
    Object.entries<OptionSpec>({ ...def.options, ...COMMON_OPTIONS }).map(([flag, o]) => [
      flag,
      flag === 'help' ? { type: o.type, short: 'h' } : { type: o.type },
    ]),
  );
}

/** Parses the command line (without node and the script). Throws UsageError (exit 2). */
export function parseCommandLine(argv: string[]): Invocation {
  // The command is the first word that is not an option; only the global options come before it.
  const { tokens } = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const at = tokens.find((t) => t.kind === 'positional')?.index ?? argv.length;
  const global = parseStrict(argv.slice(0, at), GLOBAL_OPTIONS, '', 'hero-admin --help');

  const first = argv[at];
  if (first === undefined) {
    if (global.help) return { kind: 'help', text: globalHelp() };
    if (global.version) return { kind: 'version' };
    throw new UsageError('name a command (see hero-admin --help)');
  }
  if (first === 'help') return { kind: 'help', text: globalHelp() };

  let def: CommandDefinition | undefined = COMMANDS.find((c) => c.name === first);
  let rest = argv.slice(at + 1);
  if (!def && GROUPS.has(first)) {
    const sub = argv[at + 1];
    if (sub === undefined || sub.startsWith('-')) {
      if (global.help || asksForHelp(rest)) return { kind: 'help', text: groupHelp(first) };
      const subs = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]);
      throw new UsageError(
        `${first}: name a subcommand (${subs.join(', ')}); see hero-admin ${first} --help`,
      );
    }
    def = COMMANDS.find((c) => c.name === `${first} ${sub}`);
    if (!def) throw new UsageError(`unknown command "${first} ${sub}" (see hero-admin ${first} --help)`);
    rest = argv.slice(at + 2);
  }
  if (!def) throw new UsageError(`unknown command "${first}" (see hero-admin --help)`);

  const help = `hero-admin ${def.name} --help`;
  const values = parseStrict(rest, commandOptions(def), `${def.name}: `, help);
  if (values.help || global.help) return { kind: 'help', text: commandHelp(def) };
  let args: object;
  try {
    args = def.parse(new OptionValues(def.options, values));
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${def.name}: ${err.message} (see ${help})`);
    throw err;
  }
  const command = { name: def.name, ...args } as Command;
  return { kind: 'run', command, json: Boolean(values.json || global.json) };
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
