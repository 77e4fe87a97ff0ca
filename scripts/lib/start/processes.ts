/** The processes `npm start` runs, in this order; a missing entry file is skipped with a warning. */

export type Colour =
  | 'cyan'
  | 'cyanBright'
  | 'magenta'
  | 'blue'
  | 'blueBright'
  | 'green'
  | 'yellow'
  | 'red'
  | 'gray';

export interface ChildSpec {
  name: string;
  colour: Colour;
  /** Run with `node --import tsx`, from the repository root. */
  entry: string;
  args: string[];
}

export const CHILDREN: readonly ChildSpec[] = [
  { name: 'api', colour: 'cyan', entry: 'api/src/main.ts', args: [] },
  { name: 'outbox', colour: 'magenta', entry: 'workers/src/main.ts', args: ['outbox'] },
  { name: 'auto-release', colour: 'yellow', entry: 'workers/src/main.ts', args: ['auto-release'] },
  { name: 'aggregate', colour: 'blueBright', entry: 'workers/src/main.ts', args: ['aggregate'] },
  { name: 'reconcile', colour: 'green', entry: 'workers/src/main.ts', args: ['reconcile'] },
  { name: 'web', colour: 'cyanBright', entry: 'web/server/main.ts', args: [] },
];
