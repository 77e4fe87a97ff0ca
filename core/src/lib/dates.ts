/**
 * A point in time in a message meant for people (API errors, CLI output): to the minute, in
 * UTC and saying so, e.g. `2026-12-02 12:33 UTC`. Messages are written once for every reader,
 * so no local zone can be right; a raw ISO timestamp with milliseconds reads like a log line.
 */
export function formatUtcMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
