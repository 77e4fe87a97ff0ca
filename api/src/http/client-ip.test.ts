import { describe, expect, it } from 'vitest';
import { clientIpOf, normalizeIp, normalizeProxyEntry, proxyMatcher } from './client-ip.ts';

const trusted = proxyMatcher(['127.0.0.1', '::1', '10.0.0.2']);

describe('normalizeIp', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['0:0:0:0:0:ffff:192.0.2.7', '192.0.2.7'],
    ['2001:DB8::1', '2001:db8::1'],
    ['192.0.2.7:5678', '192.0.2.7'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    [' 192.0.2.7 ', '192.0.2.7'],
    ['fe80::1%eth0', 'fe80::1'],
  ])('%s -> %s', (input, expected) => expect(normalizeIp(input)).toBe(expected));

  it.each(['', 'unknown', '999.1.1.1', 'example.org', '1.2.3', '::ffff:999.0.0.1'])(
    '%j is not an address',
    (v) => expect(normalizeIp(v)).toBeNull(),
  );
});

describe('clientIpOf', () => {
  it('an untrusted peer is the client, whatever X-Forwarded-For says', () => {
    expect(clientIpOf('192.0.2.50', '203.0.113.9', trusted)).toBe('192.0.2.50');
  });

  it('a trusted peer without the header is the client', () => {
    expect(clientIpOf('::ffff:127.0.0.1', null, trusted)).toBe('127.0.0.1');
  });

  it('behind trusted proxies: the right-most untrusted hop', () => {
    expect(clientIpOf('127.0.0.1', '203.0.113.9', trusted)).toBe('203.0.113.9');
    // The client wrote 6.6.6.6 itself; 198.51.100.4 is what the first trusted proxy saw.
    expect(clientIpOf('127.0.0.1', '6.6.6.6, 198.51.100.4, 10.0.0.2', trusted)).toBe('198.51.100.4');
  });

  it('every hop trusted: the left-most', () => {
    expect(clientIpOf('127.0.0.1', '10.0.0.2, ::1', trusted)).toBe('10.0.0.2');
  });

  it('a hop that is no address stops the walk at the hop that wrote it', () => {
    expect(clientIpOf('127.0.0.1', 'garbage, 10.0.0.2', trusted)).toBe('10.0.0.2');
    expect(clientIpOf('127.0.0.1', 'garbage', trusted)).toBe('127.0.0.1');
  });

  it('no peer: unknown', () => {
    expect(clientIpOf(undefined, '203.0.113.9', trusted)).toBeNull();
  });
});

describe('TRUSTED_PROXIES networks', () => {
  it.each([
    ['172.16.0.0/12', '172.16.0.0/12'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['FD00::/8', 'fd00::/8'],
    ['10.0.0.2', '10.0.0.2'],
  ])('%s is the entry %s', (input, expected) => expect(normalizeProxyEntry(input)).toBe(expected));

  it.each(['10.0.0.0/33', '10.0.0.0/x', 'fd00::/129', 'example.org/8', '10.0.0.0/'])('%j is refused', (v) =>
    expect(normalizeProxyEntry(v)).toBeNull(),
  );

  it('a peer inside a trusted network forwards the client address', () => {
    const compose = proxyMatcher(['172.16.0.0/12', 'fd00::/8']);
    expect(clientIpOf('172.18.0.5', '203.0.113.9', compose)).toBe('203.0.113.9');
    expect(clientIpOf('::ffff:172.18.0.5', '203.0.113.9', compose)).toBe('203.0.113.9');
    expect(clientIpOf('fd00::12', '2001:db8::7', compose)).toBe('2001:db8::7');
    // Just outside the network: not believed.
    expect(clientIpOf('172.32.0.1', '203.0.113.9', compose)).toBe('172.32.0.1');
  });
});
