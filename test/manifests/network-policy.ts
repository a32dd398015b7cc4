import type { K8s } from './render.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A place traffic can come from or go to: a pod of ours, a pod elsewhere in the cluster, or an address outside. */
export interface Peer {
  name: string;
  namespace?: string;
  namespaceLabels?: Record<string, string>;
  labels?: Record<string, string>;
  ip?: string;
  ports: { name?: string; port: number }[];
}

const matches = (selector: any, labels: Record<string, string> = {}) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && (selector?.matchExpressions ?? []).length === 0;

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  // The peers here are IPv4 addresses: an IPv6 block never holds one.
  if (base.includes(':') !== ip.includes(':')) return false;
  const num = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (num(ip) & mask) >>> 0 === (num(base) & mask) >>> 0;
}

function peerMatches(rulePeer: any, peer: Peer, policyNamespace: string): boolean {
  if (rulePeer.ipBlock) {
    return peer.ip !== undefined && inCidr(peer.ip, rulePeer.ipBlock.cidr) && !(rulePeer.ipBlock.except ?? []).some((c: string) => inCidr(peer.ip!, c));
  }
  if (peer.namespace === undefined) return false;
  const namespaceOk = rulePeer.namespaceSelector ? matches(rulePeer.namespaceSelector, peer.namespaceLabels) : peer.namespace === policyNamespace;
  const podOk = rulePeer.podSelector ? matches(rulePeer.podSelector, peer.labels) : true;
  return namespaceOk && podOk;
}

const portMatches = (rulePorts: any[] | undefined, target: Peer, port: number) =>
  rulePorts === undefined ||
  rulePorts.some(
    (p) =>
      (p.protocol ?? 'TCP') === 'TCP' &&
      (p.port === port ||
        (typeof p.endPort === 'number' && port >= p.port && port <= p.endPort) ||
        target.ports.some((tp) => tp.name === p.port && tp.port === port)),
  );

/** Whether the policies let a TCP connection from `from` reach `to` on `port` (both directions checked). */
export function allowed(policies: K8s[], namespace: string, from: Peer, to: Peer, port: number, protocol = 'TCP'): boolean {
  const side = (subject: Peer, type: 'Ingress' | 'Egress', other: Peer, target: Peer) => {
    if (subject.namespace !== namespace) return true; // not ours: its own policies are not in these manifests
    const selecting = policies.filter((p) => matches(p.spec.podSelector, subject.labels) && (p.spec.policyTypes ?? ['Ingress']).includes(type));
    if (selecting.length === 0) return true;
    return selecting.some((p) =>
      (type === 'Ingress' ? p.spec.ingress : p.spec.egress)?.some(
        (rule: any) =>
          (rule[type === 'Ingress' ? 'from' : 'to'] ?? [{}]).some((peer: any) => Object.keys(peer).length === 0 || peerMatches(peer, other, namespace)) &&
          (protocol === 'TCP' ? portMatches(rule.ports, target, port) : (rule.ports ?? []).some((p: any) => p.protocol === protocol && p.port === port)),
      ),
    );
  };
  return side(from, 'Egress', to, to) && side(to, 'Ingress', from, to);
}
