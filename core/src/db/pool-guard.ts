import type { Pool, PoolClient } from 'pg';

/**
 * Hands a checked-out connection back to the pool when its connection ends (the server was
 * restarted, or an operator terminated the backend).
 *
 * Kysely releases a transaction's connection only after its COMMIT or ROLLBACK succeeded; on a
 * dead connection both fail, so the client stayed checked out for ever. Each cut connection
 * cost the pool a slot, and once all of them had leaked every request (and /readyz) waited for
 * a connection that never came. A client whose connection ended is released here, as broken
 * (pg-pool drops it and serves the next waiter with a new connection); whoever holds it sees
 * its queries fail as before, and its own later release is a no-op.
 */
export function reclaimEndedClients(pool: Pool): void {
  const connect = pool.connect.bind(pool) as (
    cb?: (err: Error | undefined, client?: PoolClient, done?: (release?: Error | boolean) => void) => void,
  ) => Promise<PoolClient> | undefined;
  const guard = (client: PoolClient): PoolClient => {
    const release = client.release.bind(client);
    let released = false;
    const onEnd = () => once(new Error('the database connection ended while checked out'));
    const once = (err?: Error | boolean) => {
      if (released) return;
      released = true;
      client.off('end', onEnd);
      release(err);
    };
    client.once('end', onEnd);
    client.release = once;
    return client;
  };
  // pg-pool's own pool.query() uses the callback form; Kysely and withNativeTransaction the promise.
  (pool as { connect: unknown }).connect = (cb?: Parameters<typeof connect>[0]) => {
    if (cb) {
      connect((err, client, done) => {
        if (err || !client) return cb(err, client, done);
        const guarded = guard(client);
        cb(undefined, guarded, guarded.release);
      });
      return undefined;
    }
    return (connect() as Promise<PoolClient>).then(guard);
  };
}
