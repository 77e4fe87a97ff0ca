import type { CommandDefinition, OptionSpec } from './command.ts';
import { COMMANDS } from './commands/index.ts';

/** The `--help` texts, generated from the command definitions. */

/** Options every command takes besides its own. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', help: 'print JSON on stdout instead of a table' },
  help: { type: 'boolean', help: 'show this help' },
} as const satisfies Record<string, OptionSpec>;

function usageLine(def: CommandDefinition): string {
  const parts = Object.entries<OptionSpec>(def.options).map(([flag, o]) => {
    const text = `--${flag}${o.value ? ` ${o.value}` : ''}`;
    return o.required ? text : `[${text}]`;
  });
  return ['hero-admin', def.name, ...parts, '[--json]'].join(' ');
}

function optionLines(options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([flag, o]) => [
    `${flag === 'help' ? '-h, ' : ''}--${flag}${o.value ? ` ${o.value}` : ''}`,
    o.help,
  ]);
  const w = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}\n`).join('');
}

export function commandHelp(def: CommandDefinition): string {
  return (
    `usage: ${usageLine(def)}\n\n${def.summary}\n` +
    (def.description ? `\n${def.description}\n` : '') +
    `\noptions:\n${optionLines({ ...def.options, ...COMMON_OPTIONS })}`
  );
}

export function groupHelp(group: string): string {
  const defs = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const w = Math.max(...defs.map((s) => s.name.length));
  return (
    `usage: hero-admin ${group} <${defs.map((s) => s.name.split(' ')[1]).join('|')}> [options]\n\n` +
    `commands:\n${defs.map((s) => `  ${s.name.padEnd(w)}  ${s.summary}\n`).join('')}\n` +
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

naming a user (--user): the user's whole email address (any case) or id; a part of one is refused

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
