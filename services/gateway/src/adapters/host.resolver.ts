import { promises as dns } from 'node:dns';
import type { ResolveHost } from '../domain/webhooks.service.js';

/** A name's addresses as this machine's sockets would be given them (getaddrinfo: /etc/hosts, then DNS). */
export const systemResolveHost: ResolveHost = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
