import { describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_PORTS, DestinationPolicy, embeddedIpv4, parsePortRanges } from './destination.js';

const policy = new DestinationPolicy({ allow: [], block: [], ports: DEFAULT_WEBHOOK_PORTS });

describe('the address check', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'this network'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.100.100.200', 'carrier-grade NAT'],
    ['169.254.169.254', 'link-local'],
    ['169.254.170.2', 'link-local'],
    ['192.0.0.192', 'IETF protocol'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd00:ec2::254', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
  ])('when a connection to %s is asked for, then it is refused as %s', (address, what) => {
    const verdict = policy.checkAddress(address);
    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.reason).toContain(what);
  });

  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['::FFFF:A9FE:A9FE', '169.254.169.254'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['64:ff9b::a9fe:a9fe', '169.254.169.254'],
    ['64:ff9b::10.0.0.1', '10.0.0.1'],
    ['2002:7f00:1::', '127.0.0.1'],
    ['2002:c0a8:101::1', '192.168.1.1'],
    ['0:0:0:0:0:ffff:7f00:0001', '127.0.0.1'],
  ])('when an IPv6 form of an IPv4 address inside (%s) is asked for, then it is refused as the address it leads to', (address, inner) => {
    expect(embeddedIpv4(address)).toBe(inner);
    const verdict = policy.checkAddress(address);
    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.reason).toContain(inner);
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'when a public address (%s) is asked for, then it is allowed',
    (address) => {
      expect(policy.checkAddress(address)).toEqual({ allowed: true });
    },
  );

  it('when something that is not an address is given, then it is refused', () => {
    for (const bad of ['', 'localhost', '127.1', '0x7f000001', '2130706433', '1.2.3.4.5', '::ffff:1.2.3']) {
      expect(policy.checkAddress(bad).allowed, bad).toBe(false);
    }
  });

  it("when the deployment allows its own receivers' range, then exactly those addresses pass, in any of their forms", () => {
    const own = new DestinationPolicy({ allow: ['127.0.0.1/32', '10.8.0.0/16'], block: [], ports: DEFAULT_WEBHOOK_PORTS });
    expect(own.checkAddress('127.0.0.1')).toEqual({ allowed: true });
    expect(own.checkAddress('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(own.checkAddress('10.8.200.1')).toEqual({ allowed: true });
    expect(own.checkAddress('127.0.0.2').allowed).toBe(false);
    expect(own.checkAddress('10.9.0.1').allowed).toBe(false);
    expect(own.checkAddress('::1').allowed).toBe(false);
    expect(own.checkAddress('169.254.169.254').allowed).toBe(false);
  });

  it("when the deployment names the cluster's own ranges, then public-looking addresses in them are refused too", () => {
    const cluster = new DestinationPolicy({ allow: [], block: ['34.118.224.0/20', '2600:1900:4000::/44'], ports: DEFAULT_WEBHOOK_PORTS });
    expect(cluster.checkAddress('34.118.230.5').allowed).toBe(false);
    expect(cluster.checkAddress('::ffff:34.118.230.5').allowed).toBe(false);
    expect(cluster.checkAddress('2600:1900:4000::1').allowed).toBe(false);
    expect(cluster.checkAddress('34.118.240.1')).toEqual({ allowed: true });
  });
});

describe('the URL check', () => {
  it.each([
    ['http://2130706433/', 'decimal'],
    ['http://0x7f.1/', 'hexadecimal, short'],
    ['http://0x7f000001/', 'hexadecimal'],
    ['http://0177.0.0.1/', 'octal'],
    ['http://017700000001/', 'octal, whole'],
    ['http://127.1/', 'short'],
    ['http://127.000.000.001/', 'zero-padded'],
    ['http://１２７.０.０.１/', 'full-width digits'],
    ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped'],
    ['http://[::1]:8080/', 'IPv6 loopback'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'AWS metadata, IPv6'],
    ['http://169.254.169.254/latest/meta-data/', 'AWS metadata'],
    ['http://[::ffff:a9fe:a9fe]/', 'metadata, IPv4-mapped'],
    ['http://0/', 'zero'],
    ['https://10.0.0.1/', 'private, https'],
    ['http://100.100.100.200/', 'Alibaba metadata'],
  ])('when a URL names an address inside in a roundabout form (%s: %s), then it is refused', (url) => {
    const verdict = policy.checkUrl(url);
    expect(verdict).toMatchObject({ ok: false, code: 'destination_refused' });
  });

  it.each([
    ['ftp://example.com/', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['gopher://example.com:70/_x', 'unsupported_scheme'],
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['data:text/plain,hi', 'unsupported_scheme'],
    ['ws://example.com/', 'unsupported_scheme'],
    ['dict://example.com:11211/', 'unsupported_scheme'],
    ['http://user:pass@example.com/', 'credentials_in_url'],
    ['http://user@example.com/', 'credentials_in_url'],
    ['http://@example.com/', 'credentials_in_url'],
    ['https://example.com:pass@evil.com/', 'credentials_in_url'],
    ['http://example.com/#frag', 'invalid_url'],
    ['http://example.com\\@127.0.0.1/', 'invalid_url'],
    ['http://exa\tmple.com/', 'invalid_url'],
    ['http://example.com/\n', 'invalid_url'],
    [' http://example.com/', 'invalid_url'],
    ['http://exa mple.com/', 'invalid_url'],
    ['//example.com/', 'invalid_url'],
    ['example.com', 'invalid_url'],
    ['--url=http://example.com', 'invalid_url'],
    ['http://', 'invalid_url'],
    ['', 'invalid_url'],
    [`https://example.com/${'a'.repeat(3000)}`, 'invalid_url'],
    ['http://example.com:25/', 'port_not_allowed'],
    ['http://example.com:22/', 'port_not_allowed'],
    ['http://example.com:0/', 'port_not_allowed'],
    ['https://example.com:65536/', 'invalid_url'],
  ])('when a URL is hostile (%s), then it is refused with %s', (url, code) => {
    expect(policy.checkUrl(url)).toMatchObject({ ok: false, code });
  });

  it('when the URL is not a string, then it is refused', () => {
    for (const bad of [undefined, null, 42, ['http://example.com/'], { href: 'http://example.com/' }]) {
      expect(policy.checkUrl(bad)).toMatchObject({ ok: false, code: 'invalid_url' });
    }
  });

  it('when an international name is given, then it is kept in punycode, so what is shown is what is resolved', () => {
    const verdict = policy.checkUrl('https://bücher.example/hook?x=1');
    expect(verdict).toMatchObject({ ok: true, host: 'xn--bcher-kva.example', port: 443 });
    expect(verdict.ok && verdict.url.href).toBe('https://xn--bcher-kva.example/hook?x=1');
    // A look-alike of a well-known name in Cyrillic is its own, visibly different name.
    const lookalike = policy.checkUrl('https://аpple.com/');
    expect(lookalike.ok && lookalike.host).toBe('xn--pple-43d.com');
  });

  it('when ordinary URLs are given, then they pass with the host and port to connect to', () => {
    expect(policy.checkUrl('https://hooks.example.com/in')).toMatchObject({ ok: true, host: 'hooks.example.com', port: 443 });
    expect(policy.checkUrl('HTTP://Hooks.Example.COM:8080/a')).toMatchObject({ ok: true, host: 'hooks.example.com', port: 8080 });
    expect(policy.checkUrl('http://93.184.216.34/')).toMatchObject({ ok: true, host: '93.184.216.34', port: 80 });
    expect(policy.checkUrl('http://[2606:4700:4700::1111]/')).toMatchObject({ ok: true, host: '2606:4700:4700::1111', port: 80 });
  });

  it('when the loopback receiver is allowed, then its URL passes (how the tests reach their receivers)', () => {
    const own = new DestinationPolicy({ allow: ['127.0.0.1'], block: [], ports: DEFAULT_WEBHOOK_PORTS });
    expect(own.checkUrl('http://127.0.0.1:40123/hook')).toMatchObject({ ok: true, host: '127.0.0.1', port: 40123 });
    expect(own.checkUrl('http://2130706433:40123/')).toMatchObject({ ok: true, host: '127.0.0.1' });
    expect(own.checkUrl('http://127.0.0.2:40123/')).toMatchObject({ ok: false, code: 'destination_refused' });
  });
});

describe('port ranges', () => {
  it('when a port list is read, then ports and ranges are taken and anything else is not', () => {
    expect(parsePortRanges('80,443,1024-65535')).toEqual([
      [80, 80],
      [443, 443],
      [1024, 65535],
    ]);
    expect(parsePortRanges(' 8080 ')).toEqual([[8080, 8080]]);
    for (const bad of ['', '0', '65536', '90-80', 'http', '1,,2', '1-2-3', '-1']) expect(parsePortRanges(bad), bad).toBeUndefined();
  });
});
