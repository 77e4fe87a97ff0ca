/**
 * The children of `npm start`: spawned under Node with tsx, their lines relayed behind a
 * coloured tag (pino lines pretty-printed unless START_LOG_FORMAT=json), stopped with SIGTERM and SIGKILL after
 * 10 s. A child that exits on its own stops everything with exit code 1; SIGINT, SIGTERM or
 * SIGHUP stop everything with exit code 0, and a second one kills the children at once.
 *
 * Hand-written rather than on `concurrently`, which fits none of these without replacing most
 * of it: it starts one list of commands at once (here the others wait for the api's /readyz,
 * so it would take two runs, neither stopping the other's children); it spawns through a shell
 * with all of process.env plus FORCE_COLOR (the web process must not get the database URL or
 * the admin secret); it writes stdout and stderr to one stream, with no per-line transform for
 * pino; on a signal it forwards that signal (SIGINT, not SIGTERM), with no second-signal kill;
 * it kills with tree-kill and prints its own messages. Its spawn, logger and flow controllers
 * would all have to be replaced.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { prettyFactory } from 'pino-pretty';
import { REPO_ROOT } from '../../config.ts';
import type { ChildEnv } from './environment.ts';
import { StartError, say, tag, warn } from './output.ts';
import type { ChildSpec, Colour } from './processes.ts';

const CHILD_STOP_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 90_000;

interface RunningChild {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  closed: Promise<void>;
}

const children: RunningChild[] = [];
/** Aborted when everything stops; aborts a web UI build in progress. */
const stopping = new AbortController();
export const stopSignal = stopping.signal;
let forced = false;
/** Stopped after the children: the embedded PostgreSQL they use. */
let stopLast: (() => Promise<void>) | undefined;
let shuttingDown: Promise<never> | undefined;

export function isStopping(): boolean {
  return stopping.signal.aborted;
}

function alive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/** SIGINT / SIGTERM / SIGHUP: stop everything, exit code 0; a second one kills the children. */
export function stopOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  if (isStopping()) {
    if (forced) return;
    forced = true;
    warn(`${signal} again: killing the children now`);
    for (const c of children) if (alive(c.proc)) c.proc.kill('SIGKILL');
    return;
  }
  say(`${signal}: stopping (again to force)`);
  void shutdown(0);
}

/** What to stop once the children have stopped. */
export function stopAfterChildren(stop: () => Promise<void>): void {
  stopLast = stop;
}

/** Warns, then stops everything with exit code 1. */
export function stopEverything(warning: string): void {
  warn(warning);
  void shutdown(1);
}

/** Stops the children, then what they use, then exits with `code`; later calls join the first. */
export function shutdown(code: number): Promise<never> {
  shuttingDown ??= (async () => {
    stopping.abort();
    let exitCode = code;
    try {
      await stopChildren();
      await stopLast?.();
    } catch (err) {
      warn(`while stopping: ${err instanceof Error ? err.message : String(err)}`);
      exitCode ||= 1;
    }
    if (exitCode === 0) say('stopped');
    process.exit(exitCode);
  })();
  return shuttingDown;
}

/** Starts each of `specs` whose entry file exists, with the environment `envFor` gives it. */
export function startChildren(specs: readonly ChildSpec[], envFor: (spec: ChildSpec) => ChildEnv): void {
  for (const spec of specs) {
    if (!existsSync(path.join(REPO_ROOT, spec.entry))) {
      warn(`${spec.name}: ${spec.entry} does not exist yet: not started`);
      continue;
    }
    spawnChild(spec, envFor(spec));
  }
}

/** The names of the children started so far, in start order. */
export function startedChildren(): string[] {
  return children.map((c) => c.name);
}

function spawnChild(spec: ChildSpec, env: ChildEnv): void {
  const proc = spawn(process.execPath, ['--import', 'tsx', spec.entry, ...spec.args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal signals only the supervisor, which stops
    // each child once with SIGTERM. In the terminal's group a child would get the SIGINT and
    // then that SIGTERM, a second signal: exit 1 at once, nothing drained.
    detached: true,
  });
  if (proc.stdout) relayLines(proc.stdout, spec.name, spec.colour, process.stdout);
  if (proc.stderr) relayLines(proc.stderr, spec.name, spec.colour, process.stderr);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  proc.once('exit', (code, signal) => {
    if (isStopping()) return;
    // A signal to the whole group (e.g. a terminal hang-up) may reach a child first: let the
    // supervisor's own signal handler run before calling this exit unexpected.
    setTimeout(() => {
      if (!isStopping()) exitedUnexpectedly(spec.name, signal ? `signal ${signal}` : `code ${code}`);
    }, 300);
  });
  proc.once('error', (err) => {
    if (!isStopping()) exitedUnexpectedly(spec.name, `failed to start: ${err.message}`);
  });
  children.push({ name: spec.name, proc, exited, closed });
}

function exitedUnexpectedly(name: string, how: string): void {
  stopEverything(`${name} exited unexpectedly (${how}): stopping everything`);
}

type Pretty = (line: string) => string;

/** pino-pretty for the children's pino lines: the time, the level and the message, readable. */
export function prettyPrinter(colour: boolean): Pretty {
  // One line per log line: a line's fields (a URL, an id) stay next to its message.
  return prettyFactory({
    colorize: colour,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
  });
}

let prettyPino: Pretty | undefined = prettyPrinter(Boolean(process.stdout.isTTY));

/**
 * `pretty` (npm start's default, START_LOG_FORMAT): pino lines as text, coloured in a terminal,
 * also when the output is piped (a person reads npm start); `json`: as the processes write them.
 */
export function setLogFormat(format: 'pretty' | 'json'): void {
  prettyPino = format === 'pretty' ? prettyPrinter(Boolean(process.stdout.isTTY)) : undefined;
}

/** One line of a child's output as relayed: a pino line made pretty, anything else as it came. */
export function relayText(line: string, pretty: Pretty | null = prettyPino ?? null): string {
  if (!pretty || !line.startsWith('{"level":')) return line;
  try {
    return pretty(line).trimEnd();
  } catch {
    return line; // not pino after all
  }
}

/** Writes every line of `input` to `out`, behind the coloured tag (see relayText). */
function relayLines(input: Readable, name: string, colour: Colour, out: Writable): void {
  const rl = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const prefix = tag(name, colour, out);
  rl.on('line', (line) => {
    for (const l of relayText(line).split('\n')) out.write(`${prefix} ${l}\n`);
  });
}

async function stopChildren(): Promise<void> {
  const running = children.filter((c) => alive(c.proc));
  for (const c of running) c.proc.kill('SIGTERM');
  const all = Promise.all(running.map((c) => c.exited));
  const timedOut = await Promise.race([all.then(() => false), sleep(CHILD_STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    for (const c of running) {
      if (!alive(c.proc)) continue;
      warn(`${c.name} did not stop within ${CHILD_STOP_TIMEOUT_MS / 1000} s: SIGKILL`);
      c.proc.kill('SIGKILL');
    }
    await Promise.race([all, sleep(3000)]);
  }
  // Let their last lines through.
  await Promise.race([Promise.all(children.map((c) => c.closed)), sleep(1000)]);
}

/**
 * Waits until http://127.0.0.1:`port``urlPath` answers 200: true; false when everything
 * stopped meanwhile. After READY_TIMEOUT_MS, a StartError naming `what`.
 */
export async function waitUntilAnswering(what: string, port: number, urlPath: string): Promise<boolean> {
  const ready = await pollUntilOk(`http://127.0.0.1:${port}${urlPath}`);
  if (isStopping()) return false;
  if (!ready) {
    throw new StartError(
      `${what} did not answer http://localhost:${port}${urlPath} with 200 within ${READY_TIMEOUT_MS / 1000} s`,
    );
  }
  return true;
}

async function pollUntilOk(url: string): Promise<boolean> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (!isStopping() && performance.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200) return true;
    } catch {
      // Not listening yet.
    }
    await sleep(150);
  }
  return false;
}
