/**
 * Failures of the database connection rather than of a statement: they say nothing about the
 * request, so callers get a 503 to retry instead of an internal error.
 *
 * - `busy`: no pool connection came free within the pool timeout (pg-pool's own message).
 * - `unavailable`: the connection was cut or could not be made (server restarting, backend
 *   terminated, network down).
 */
export type DatabaseFailure = 'busy' | 'unavailable';

const POOL_TIMEOUT =
  /^timeout exceeded when trying to connect$|^Connection terminated due to connection timeout/;
const CONNECTION_LOST =
  /^Connection terminated( unexpectedly)?$|not queryable|^the database connection ended|^connect (ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH)|^read ECONNRESET|^write EPIPE/;
/** SQLSTATE class 08 (connection exception) and operator intervention (57P01–57P05). */
const CONNECTION_SQLSTATE = /^(08...|57P0[1-5])$/;
const CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

export function databaseFailure(err: unknown): DatabaseFailure | null {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (!(e instanceof Error)) return null;
    const code = String((e as { code?: unknown }).code ?? '');
    // 53300: too_many_connections, the server's own limit.
    if (POOL_TIMEOUT.test(e.message) || code === '53300') return 'busy';
    if (CONNECTION_SQLSTATE.test(code) || CONNECTION_ERRNO.has(code) || CONNECTION_LOST.test(e.message))
      return 'unavailable';
  }
  return null;
}
