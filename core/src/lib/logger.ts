import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Pretty, human output; defaults to "stdout is a terminal". */
  pretty?: boolean;
}

/** Paths that must never reach a log line. */
export const REDACT_PATHS = [
  'adminSecret',
  'ADMIN_SECRET',
  'token',
  'password',
  'secret',
  '*.adminSecret',
  '*.ADMIN_SECRET',
  '*.token',
  '*.password',
  '*.secret',
  'req.headers.authorization',
  'req.headers["x-admin-secret"]',
  'headers.authorization',
  'headers["x-admin-secret"]',
];

/** JSON logs (pretty in a terminal), secrets redacted. Modules take `logger.child({ module })`. */
export function createLogger({ name, level = 'info', pretty = process.stdout.isTTY }: LoggerOptions): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}
