import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// Which addresses a webhook may be sent to. A webhook URL is typed by an admin, but a URL is a way
// into our network (SSRF): the metadata service at 169.254.169.254, a database on 10.x, our own
// loopback. In production only public addresses are reached. The check runs on the address each
// connection is about to use (the agent's `lookup`), so a name that resolved to a public address
// when the endpoint was saved and to 10.0.0.5 now is refused now. README.md beside this file.

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some)
  ['ff00::', 8], // multicast
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** An IPv4 address carried inside an IPv6 one (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4). */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const [hi, lo] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/** True for an address a webhook must not reach in production: anything not public unicast. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4) return blocked.check(v4, 'ipv4');
    // Every other IPv4-compatible or mapped form is refused rather than parsed further.
    if (/^::(ffff:)?[0-9a-f]/i.test(address) && address !== '::') return true;
    return blocked.check(address, 'ipv6');
  }
  return true; // not an address at all: nothing to trust
}

/** Thrown when a target is refused; the delivery fails and is not retried sooner. */
export class UnsafeTargetError extends Error {
  readonly code = 'EUNSAFETARGET';
  constructor(
    readonly host: string,
    readonly address?: string,
  ) {
    super(`${host}${address && address !== host ? ` (${address})` : ''} is not a public address`);
    this.name = 'UnsafeTargetError';
  }
}

/** The shape of `dns.lookup` the http agent calls; replaceable in tests to make a name resolve anywhere. */
export type Lookup = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/**
 * A `lookup` for the http agent that refuses private addresses: the connection is made to the very
 * address checked here, so no later DNS answer can slip past. Every address of the answer is
 * checked (with `all`, Node may try each), and one private address refuses the name.
 */
export function safeLookup(resolve: Lookup = dnsLookup as unknown as Lookup): Lookup {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      const unsafe = addresses.find(isPrivateAddress);
      if (unsafe !== undefined) return callback(new UnsafeTargetError(hostname, unsafe), address, family);
      callback(null, address, family);
    });
  };
}

/**
 * What an admin may save as an endpoint URL: http(s) without credentials. With `allowPrivate` off,
 * also refuses a literal private address and a name that resolves to one now (a helpful early
 * answer; the check that protects is the one at connect time).
 */
export async function checkTargetUrl(
  raw: string,
  options: { allowPrivate: boolean; lookup?: Lookup },
): Promise<'ok' | 'invalid' | 'unsafe'> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'invalid';
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) return 'invalid';
  if (options.allowPrivate) return 'ok';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateAddress(host) ? 'unsafe' : 'ok';
  if (host === 'localhost' || host.endsWith('.localhost')) return 'unsafe';
  const lookup = safeLookup(options.lookup);
  return new Promise((resolve) => {
    lookup(host, { all: true }, (error) => {
      // A name that does not resolve yet may later: only a private answer refuses it now.
      resolve(error instanceof UnsafeTargetError ? 'unsafe' : 'ok');
    });
  });
}
