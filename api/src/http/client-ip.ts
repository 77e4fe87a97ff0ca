import { isIP } from 'node:net';

/**
 * An IP address in canonical text form, or null when `value` is not one. IPv4-mapped IPv6
 * addresses (`::ffff:127.0.0.1`, what a dual-stack socket reports for an IPv4 peer) become
 * plain IPv4; IPv6 is lower-cased. A port (`1.2.3.4:5678`, `[::1]:5678`), as some proxies
 * write into X-Forwarded-For, is dropped.
 */
export function normalizeIp(value: string): string | null {
  let ip = value.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(ip);
  if (bracketed) ip = bracketed[1];
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(ip)) ip = ip.slice(0, ip.lastIndexOf(':'));
  // A zone index (fe80::1%eth0) says nothing about who the peer is.
  ip = ip.replace(/%.*$/, '');
  const kind = isIP(ip);
  if (kind === 4) return ip;
  if (kind !== 6) return null;
  ip = ip.toLowerCase();
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip);
  if (mapped && isIP(mapped[1]) === 4) return mapped[1];
  return ip;
}

/**
 * The address a request comes from: its direct peer, unless that peer is a trusted proxy and
 * the request carries X-Forwarded-For; then the right-most address of that header that is not a
 * trusted proxy itself (each proxy appends the address it got the request from, so everything
 * left of the first untrusted hop may have been written by the client and is not believed).
 * When every hop is trusted, the left-most one. An entry that is not an IP address stops the
 * walk at the hop that wrote it.
 */
export function clientIpOf(
  peerAddress: string | null | undefined,
  forwardedFor: string | null | undefined,
  trustedProxies: ReadonlySet<string>,
): string | null {
  const peer = peerAddress ? normalizeIp(peerAddress) : null;
  if (peer === null) return null;
  if (!trustedProxies.has(peer) || !forwardedFor) return peer;
  const hops = forwardedFor
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i]);
    if (hop === null) return client;
    client = hop;
    if (!trustedProxies.has(hop)) return hop;
  }
  return client;
}
