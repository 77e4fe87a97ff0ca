import { BlockList, isIP } from 'node:net';

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

/** Which peers are trusted proxies: `has(ip)` for a normalized address. */
export interface ProxyMatcher {
  has(ip: string): boolean;
}

/**
 * One TRUSTED_PROXIES entry in canonical form: an address (`10.0.0.2`) or a network in CIDR
 * notation (`172.16.0.0/12`, `fd00::/8`); null when it is neither.
 */
export function normalizeProxyEntry(entry: string): string | null {
  const slash = entry.indexOf('/');
  if (slash === -1) return normalizeIp(entry);
  const ip = normalizeIp(entry.slice(0, slash));
  const prefixText = entry.slice(slash + 1).trim();
  if (ip === null || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > (isIP(ip) === 4 ? 32 : 128)) return null;
  return `${ip}/${prefix}`;
}

/** A matcher for normalized TRUSTED_PROXIES entries (addresses and CIDR networks). */
export function proxyMatcher(entries: readonly string[]): ProxyMatcher {
  const list = new BlockList();
  for (const entry of entries) {
    const [ip, prefix] = entry.split('/');
    const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(prefix), type);
  }
  return { has: (ip) => list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6') };
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
  trustedProxies: ProxyMatcher,
): string | null {
  const peer = peerAddress ? normalizeIp(peerAddress) : null;
  if (peer === null) return null;
  // The header first: without one the (costlier) proxy check decides nothing.
  if (!forwardedFor || !trustedProxies.has(peer)) return peer;
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
