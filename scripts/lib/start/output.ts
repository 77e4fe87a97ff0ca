/** What `npm start` itself prints: lines behind a coloured `[tag]` padded to one width. */
import path from 'node:path';
import type { Writable } from 'node:stream';
import { styleText } from 'node:util';
import { CHILDREN, type Colour } from './processes.ts';

/** An expected failure: its message is printed, without a stack trace. */
export class StartError extends Error {}

const TAG_WIDTH = Math.max(...CHILDREN.map((c) => c.name.length), 'postgres'.length) + 2;

export function tag(name: string, colour: Colour, stream: Writable): string {
  return styleText(['bold', colour], `[${name}]`.padEnd(TAG_WIDTH), { stream });
}

export function say(message: string): void {
  for (const line of message.split('\n'))
    process.stdout.write(`${tag('start', 'green', process.stdout)} ${line}\n`);
}

export function warn(message: string): void {
  for (const line of message.split('\n')) {
    process.stderr.write(
      `${tag('start', 'yellow', process.stderr)} ${styleText('yellow', line, { stream: process.stderr })}\n`,
    );
  }
}

export function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** `file` relative to the working directory when it lies below it, else as given. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
