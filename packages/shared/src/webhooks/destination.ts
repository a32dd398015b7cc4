import { BlockList, isIP } from 'node:net';

/**
 * Where a webhook may go. A user names the URL, the system makes the request: without these rules the user
 * could make it reach inside (the databases, the broker, a cloud's metadata service). What counts is the
 * address connected to, never the name: the same check runs on the URL at registration (a literal address,
 * and the name resolved once for early feedback) and on every address the sender's socket is given to
 * connect to (see `guardedLookup` in the webhooks service), so a name that resolves elsewhere later
 * (DNS rebinding) is refused where it matters.
 */

/** Ranges no webhook may reach, by what they are (IANA's special-purpose registries, and the clouds' metadata). */
const SPECIAL_RANGES: readonly (readonly [cidr: string, what: string])[] = [
  ['0.0.0.0/8', 'a "this network" address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address (cloud metadata lives there)'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a 6to4 relay address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved address'],
  ['::/96', 'an unspecified, loopback or IPv4-compatible address'],
  ['::ffff:0:0:0/96', 'an IPv4-translated address'],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
  ['100::/64', 'a discard-only address'],
  ['2001::/23', 'an IETF protocol address (Teredo among them)'],
  ['2001:db8::/32', 'a documentation address'],
  ['3fff::/20', 'a documentation address'],
  ['fc00::/7', 'a unique-local address (cloud metadata lives there)'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
];

const parseCidr = (cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined => {
  const [address = '', bits, ...rest] = cidr.trim().split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
};

/** Whether `cidr` is an address or `address/prefix` that this module takes (for config schemas). */
export const isCidr = (cidr: string): boolean => parseCidr(cidr) !== undefined;

const blockListOf = (cidrs: readonly string[]): BlockList => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`not an address range: ${cidr}`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list;
};

/** The 8 groups of an IPv6 address, or undefined for anything else. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 ? groups : undefined;
}

const ipv4Of = (high: number, low: number): string => [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');

/**
 * The IPv4 address an IPv6 one carries and leads to: IPv4-mapped (`::ffff:a.b.c.d`, also how a dual-stack
 * socket reports an IPv4 peer), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
 */
export function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return ipv4Of(g[1]!, g[2]!);
  return undefined;
}

/** `kind` says what the address is without naming it (for whoever must not learn the inside's layout). */
export type AddressVerdict = { allowed: true } | { allowed: false; reason: string; kind: string };

export interface DestinationRules {
  /** Address ranges a deployment's own receivers live in: allowed even where the rules below refuse. */
  allow: readonly string[];
  /** Ranges refused besides the special ones: the cluster's own pod and service ranges when they are not private. */
  block: readonly string[];
  /** Ports a webhook URL may name, as inclusive ranges. */
  ports: readonly (readonly [number, number])[];
}

/** Any port from 1024 up, and the two of the web: no mail, SSH or other well-known service below. */
export const DEFAULT_WEBHOOK_PORTS: readonly (readonly [number, number])[] = [
  [80, 80],
  [443, 443],
  [1024, 65535],
];

/** Longest webhook URL taken, characters. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type UrlVerdict =
  | {
      ok: true;
      url: URL;
      /** The host to connect to: a name, or an address without brackets. */
      host: string;
      port: number;
      /** The host is an address (checked here), not a name (checked once resolved). */
      literal: boolean;
    }
  | { ok: false; code: 'invalid_url' | 'unsupported_scheme' | 'credentials_in_url' | 'port_not_allowed' | 'destination_refused'; message: string };

/** The one policy of where webhooks go: built from the deployment's rules, used by the gateway and the sender. */
export class DestinationPolicy {
  private readonly allowed: BlockList;
  private readonly special: { list: BlockList; what: string }[];
  private readonly extra: BlockList;

  constructor(private readonly rules: DestinationRules) {
    this.allowed = blockListOf(rules.allow);
    this.special = SPECIAL_RANGES.map(([cidr, what]) => ({ list: blockListOf([cidr]), what }));
    this.extra = blockListOf(rules.block);
  }

  /** Whether a connection to `address` (as a socket or a resolver gives it) may be made. */
  checkAddress(address: string): AddressVerdict {
    const version = isIP(address);
    if (version === 0) return { allowed: false, reason: 'not an IP address', kind: 'not an IP address' };
    const family = version === 4 ? 'ipv4' : 'ipv6';
    const plain = address.split('%')[0]!;
    if (this.allowed.check(plain, family)) return { allowed: true };
    const inner = version === 6 ? embeddedIpv4(plain) : undefined;
    if (inner !== undefined) {
      const verdict = this.checkAddress(inner);
      if (!verdict.allowed) return { allowed: false, reason: `${plain} leads to ${inner}: ${verdict.reason}`, kind: verdict.kind };
    }
    const special = this.special.find(({ list }) => list.check(plain, family));
    if (special) return { allowed: false, reason: `${plain} is ${special.what}`, kind: special.what };
    if (this.extra.check(plain, family)) {
      const kind = 'an address in a range this deployment refuses';
      return { allowed: false, reason: `${plain} is ${kind}`, kind };
    }
    return { allowed: true };
  }

  /**
   * A URL as a user gives it, checked before anything is stored or sent: http or https, no credentials,
   * no fragment, a port of the allowed ones, and a literal address (in whichever form: `http://2130706433/`,
   * `http://0x7f.1/`, `http://[::ffff:7f00:1]/` all mean 127.0.0.1) outside the refused ranges. The URL
   * kept is the parsed one (`href`: lower-case host, IDNs in punycode), so what is shown is what is used.
   */
  checkUrl(raw: unknown): UrlVerdict {
    if (typeof raw !== 'string' || raw.length === 0) return { ok: false, code: 'invalid_url', message: 'url must be a non-empty string' };
    if (raw.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, code: 'invalid_url', message: `url is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
    // A URL parser drops tabs and line breaks and reads `\` as `/`: what the user sees must be what is parsed.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (/[\u0000-\u0020\u007f\\]/.test(raw)) return { ok: false, code: 'invalid_url', message: 'url has spaces, control characters or backslashes' };
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, code: 'invalid_url', message: 'url is not an absolute URL' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { ok: false, code: 'unsupported_scheme', message: 'url must be http or https' };
    }
    if (url.username !== '' || url.password !== '' || /^[a-z]+:\/\/[^/?#]*@/i.test(raw)) {
      return { ok: false, code: 'credentials_in_url', message: 'url must not carry credentials (user:password@); the signature authenticates the sender' };
    }
    if (url.hash !== '' || raw.includes('#')) return { ok: false, code: 'invalid_url', message: 'url must not have a fragment (#…): it is never sent' };
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    if (!this.rules.ports.some(([from, to]) => port >= from && port <= to)) {
      return { ok: false, code: 'port_not_allowed', message: `port ${port} is not allowed (${describePorts(this.rules.ports)})` };
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (host === '') return { ok: false, code: 'invalid_url', message: 'url has no host' };
    const literal = isIP(host) !== 0;
    if (literal) {
      const verdict = this.checkAddress(host);
      if (!verdict.allowed) return { ok: false, code: 'destination_refused', message: `url leads inside: ${verdict.reason}` };
    }
    return { ok: true, url, host, port, literal };
  }
}

export const describePorts = (ports: readonly (readonly [number, number])[]): string =>
  ports.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(', ');

/** `80,443,1024-65535` → port ranges; undefined for anything else. */
export function parsePortRanges(text: string): [number, number][] | undefined {
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    if (!match) return undefined;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (from < 1 || to > 65535 || from > to) return undefined;
    ranges.push([from, to]);
  }
  return ranges;
}
