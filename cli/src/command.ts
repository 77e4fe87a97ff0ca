import type { ApiClient } from './client.ts';
import type { PushConfig } from './config.ts';
import { UsageError } from './errors.ts';
import { type UserRef, userRef } from './user-ref.ts';

/**
 * What a `hero-admin` command is: one definition object (name, help, options, how its options
 * become arguments, and its run), made with `defineCommand` in a file under commands/ and listed
 * once in commands/index.ts. Parsing, help and dispatch are generated from these definitions.
 */

export interface Output {
  /** stdout */
  out(text: string): void;
  /** stderr */
  err(text: string): void;
  /** A terminal for progress bars (stderr when it is a TTY); none: no progress shown. */
  progress?: NodeJS.WritableStream;
}

/** What a command that talks to the API runs with. */
export interface ApiContext {
  client: ApiClient;
  /** Print JSON on stdout instead of tables / key-value lines. */
  json: boolean;
  io: Output;
}

/** What a command that writes to the billing repository runs with (no API, no admin secret). */
export interface RepositoryContext {
  config: PushConfig;
  json: boolean;
  io: Output;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** For --help: the value's placeholder (`<path>`, `A|B`), also named in "is required". */
  value?: string;
  help: string;
  /** Written without brackets in the usage line; the command's `parse` enforces it. */
  required?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

type OptionsOfType<O extends OptionSpecs, T extends OptionSpec['type']> = {
  [K in keyof O]: O[K]['type'] extends T ? K : never;
}[keyof O] &
  string;

/**
 * One command's options as parseArgs answered them, read through the checks commands share.
 * Every failure is a UsageError (exit 2) naming the option.
 */
export class OptionValues<O extends OptionSpecs> {
  constructor(
    private readonly specs: O,
    private readonly values: Record<string, string | boolean | undefined>,
  ) {}

  flag(name: OptionsOfType<O, 'boolean'>): boolean {
    return this.values[name] === true;
  }

  /** The value as given, or undefined. */
  string(name: OptionsOfType<O, 'string'>): string | undefined {
    return this.values[name] as string | undefined;
  }

  /** Present and not blank; answered as given (not trimmed). */
  required(name: OptionsOfType<O, 'string'>): string {
    const value = this.string(name);
    if (value === undefined || value.trim() === '')
      throw new UsageError(`--${name} ${this.specs[name].value} is required`);
    return value;
  }

  /** Absent stays undefined; given, it must not be blank, and is answered trimmed. */
  optional(name: OptionsOfType<O, 'string'>): string | undefined {
    return this.string(name) === undefined ? undefined : this.required(name).trim();
  }

  /** One of `allowed`, case-insensitive, answered upper-case; absent stays undefined. */
  oneOf<T extends string>(name: OptionsOfType<O, 'string'>, allowed: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const upper = value.toUpperCase();
    if (!(allowed as readonly string[]).includes(upper))
      throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got "${value}")`);
    return upper as T;
  }

  /** A user by email or id (resolved when the command runs); required. */
  user(name: OptionsOfType<O, 'string'>): UserRef {
    return userRef(name, this.required(name));
  }

  /** A user by email or id, or undefined when absent. */
  optionalUser(name: OptionsOfType<O, 'string'>): UserRef | undefined {
    return this.string(name) === undefined ? undefined : this.user(name);
  }

  /** A whole number >= 1; absent: `fallback`. */
  positiveInt(name: OptionsOfType<O, 'string'>, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    if (!/^[0-9]+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value)))
      throw new UsageError(`--${name} must be a positive whole number (got "${value}")`);
    return Number(value);
  }
}

interface CommandBase<N extends string, O extends OptionSpecs, A> {
  /** What is typed: `reconcile`, or `<group> <command>` (`pool list`). */
  name: N;
  /** One line, in the command lists of `--help`. */
  summary: string;
  /** Longer text under the usage line of the command's `--help`. */
  description?: string;
  /** Besides --json and --help, which every command takes. */
  options: O;
  /** The options as the command's arguments; throws UsageError (prefixed with the command's name). */
  parse(values: OptionValues<O>): A;
}

export interface ApiCommand<N extends string, O extends OptionSpecs, A> extends CommandBase<N, O, A> {
  uses: 'api';
  run(ctx: ApiContext, args: A): Promise<void>;
}

export interface RepositoryCommand<N extends string, O extends OptionSpecs, A> extends CommandBase<N, O, A> {
  uses: 'billing repository';
  run(ctx: RepositoryContext, args: A): Promise<void>;
}

/** Without type arguments: any command, as the registry, parser and help see it. */
export type CommandDefinition<N extends string = string, O extends OptionSpecs = any, A = any> =
  | ApiCommand<N, O, A>
  | RepositoryCommand<N, O, A>;

/** Checks a definition and keeps its types (name, options, arguments) for the registry. */
export function defineCommand<N extends string, const O extends OptionSpecs, A>(
  definition: ApiCommand<N, O, A> | RepositoryCommand<N, O, A>,
): CommandDefinition<N, O, A> {
  return definition;
}

/** What a definition parses to: its name and its arguments (`{ name: 'pool list', status }`). */
export type CommandLineOf<D> = D extends CommandDefinition<infer N, any, infer A> ? { name: N } & A : never;
