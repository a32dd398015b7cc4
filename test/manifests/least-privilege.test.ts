import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { allowed, type Peer } from './network-policy.js';
import { type K8s, named, prepareManifests, render, root, workloads } from './render.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const manifests = prepareManifests();
afterAll(() => manifests.cleanup());
const base = render(manifests.dir, 'base');
const minikube = render(manifests.dir, 'overlays/minikube');
const keda = render(manifests.dir, 'overlays/minikube-keda');
const certManager = render(manifests.dir, 'overlays/base-cert-manager');
const NS = 'mp3converter';

const secretEnv = (objs: K8s[], name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(named(objs, 'Secret', name)!.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
const secretOf = (objs: K8s[], workload: string, kind = 'Deployment') => {
  const ref = named(objs, kind, workload)!.spec.template.spec.containers[0].envFrom.find((f: any) => f.secretRef).secretRef.name as string;
  return secretEnv(objs, ref);
};

describe('network policies', () => {
  const outside: Peer[] = [
    { name: 'ingress-nginx', namespace: 'ingress-nginx', namespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' }, ports: [{ port: 443 }] },
    {
      name: 'kube-dns',
      namespace: 'kube-system',
      namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
      labels: { 'k8s-app': 'kube-dns' },
      ports: [{ port: 53 }],
    },
    { name: 'keda', namespace: 'keda', namespaceLabels: { 'kubernetes.io/metadata.name': 'keda' }, labels: { app: 'keda-operator' }, ports: [{ port: 8080 }] },
    { name: 'internet', ip: '203.0.113.10', ports: [25, 465, 587, 443, 80, 27017, 5672].map((port) => ({ port })) },
    {
      name: 'prometheus',
      namespace: 'monitoring',
      namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
      labels: { 'app.kubernetes.io/name': 'prometheus' },
      ports: [{ port: 9090 }],
    },
    // Another pod of the monitoring namespace: the scrape rule names Prometheus, not the whole namespace.
    {
      name: 'grafana',
      namespace: 'monitoring',
      namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
      labels: { 'app.kubernetes.io/name': 'grafana' },
      ports: [{ port: 3000 }],
    },
  ];
  const podsOf = (objs: K8s[]): Peer[] =>
    workloads(objs).map((w) => ({
      name: w.metadata.name,
      namespace: NS,
      namespaceLabels: { 'kubernetes.io/metadata.name': NS },
      labels: w.spec.template.metadata.labels,
      ports: w.spec.template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => ({ name: p.name, port: p.containerPort }))),
    }));

  /** Every TCP connection the policies allow between our pods and the peers around them, as "from → to:port". */
  function reachable(objs: K8s[]): string[] {
    const policies = objs.filter((o) => o.kind === 'NetworkPolicy');
    const peers = [...podsOf(objs), ...outside];
    const found: string[] = [];
    for (const from of peers) {
      for (const to of peers) {
        if (from === to || (from.namespace !== NS && to.namespace !== NS)) continue;
        for (const { port } of to.ports) if (allowed(policies, NS, from, to, port)) found.push(`${from.name} → ${to.name}:${port}`);
      }
    }
    return found.sort();
  }

  const dns = (pods: string[]) => pods.map((p) => `${p} → kube-dns:53`);
  const core = [
    'ingress-nginx → gateway:8080',
    'gateway → auth:5000',
    'gateway → mongodb:27017',
    'gateway → rabbitmq:5672',
    'auth → mysql:3306',
    'converter → mongodb:27017',
    'converter → rabbitmq:5672',
    'notification → mongodb:27017',
    'notification → rabbitmq:5672',
    'webhooks → mongodb:27017',
    'webhooks → rabbitmq:5672',
    // Each service's probe port, where /metrics is, and no other of its ports.
    'prometheus → gateway:8083',
    'prometheus → auth:8084',
    'prometheus → converter:8081',
    'prometheus → notification:8082',
    'prometheus → webhooks:8085',
  ];
  const smtpOutside = ['notification → internet:25', 'notification → internet:465', 'notification → internet:587'];
  // The web's ports, and any from 1024 up (27017 and 5672 of an address outside among them).
  const webhooksOutside = ['webhooks → internet:80', 'webhooks → internet:443', 'webhooks → internet:5672', 'webhooks → internet:27017'];
  const services = ['auth', 'gateway', 'converter', 'notification', 'webhooks', 'mongodb', 'mysql', 'rabbitmq'];

  it('when the base is evaluated, then each workload reaches exactly what it needs, and Prometheus only the probe ports: nothing else', () => {
    expect(reachable(base)).toEqual([...core, ...smtpOutside, ...webhooksOutside, ...dns(services)].sort());
  });

  it('when the minikube overlay is evaluated, then the mail catcher (SMTP from notification only) and the management UI are added, and nothing else', () => {
    const extra = ['ingress-nginx → rabbitmq:15672', 'notification → maildev:1025'];
    expect(reachable(minikube)).toEqual([...core, ...smtpOutside, ...webhooksOutside, ...extra, ...dns([...services, 'maildev'])].sort());
  });

  it('when KEDA is switched on, then its operator reaches RabbitMQ, and only that is added', () => {
    expect(reachable(keda)).toEqual([...reachable(minikube), 'keda → rabbitmq:5672'].sort());
  });

  it('when every pod asks the cluster DNS over UDP, then it is let through, and the converter reaches no address outside', () => {
    const policies = minikube.filter((o) => o.kind === 'NetworkPolicy');
    const dnsPeer = outside.find((p) => p.name === 'kube-dns')!;
    const internet = outside.find((p) => p.name === 'internet')!;
    for (const pod of podsOf(minikube)) expect(allowed(policies, NS, pod, dnsPeer, 53, 'UDP'), pod.name).toBe(true);
    const converter = podsOf(minikube).find((p) => p.name === 'converter')!;
    for (const { port } of internet.ports) expect(allowed(policies, NS, converter, internet, port), `converter → ${port}`).toBe(false);
    expect(named(minikube, 'NetworkPolicy', 'default-deny')!.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it.each([
    ['a cloud metadata service', '169.254.169.254', 80],
    ['a pod', '10.244.0.12', 8080],
    ['a Service', '10.96.0.10', 443],
    ['a node', '192.168.49.2', 10250],
    ['a carrier-grade NAT address (Alibaba metadata)', '100.100.100.200', 80],
    ['the loopback', '127.0.0.1', 8080],
    ['an IETF address (Oracle metadata)', '192.0.0.192', 80],
  ])('when the webhooks worker connects to %s (%s), then the policies refuse it even on a port it may use outside', (_what, ip, port) => {
    const policies = minikube.filter((o) => o.kind === 'NetworkPolicy');
    const webhooks = podsOf(minikube).find((p) => p.name === 'webhooks')!;
    const inside: Peer = { name: 'inside', ip, ports: [{ port }] };
    expect(allowed(policies, NS, webhooks, inside, port)).toBe(false);
    expect(allowed(policies, NS, webhooks, { name: 'outside', ip: '93.184.216.34', ports: [{ port }] }, port)).toBe(true);
  });

  it('when the webhooks worker connects outside below 1024 on a port that is not the web’s, then the policies refuse it', () => {
    const policies = minikube.filter((o) => o.kind === 'NetworkPolicy');
    const webhooks = podsOf(minikube).find((p) => p.name === 'webhooks')!;
    for (const port of [22, 25, 53, 587, 1023]) {
      expect(allowed(policies, NS, webhooks, { name: 'outside', ip: '93.184.216.34', ports: [{ port }] }, port), String(port)).toBe(false);
    }
  });
});

describe('the namespace, the Ingress and the probes', () => {
  it('when the base namespace is read, then Pod Security "restricted" is enforced, warned and audited', () => {
    const ns = named(base, 'Namespace', NS)!;
    for (const mode of ['enforce', 'warn', 'audit']) expect(ns.metadata.labels?.[`pod-security.kubernetes.io/${mode}`]).toBe('restricted');
    for (const o of base.filter((o) => o.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NS);
  });

  it.each([
    ['base', base],
    ['minikube', minikube],
  ])('when the %s Ingresses are read, then each serves TLS for its hosts and redirects plain HTTP', (_name, objs) => {
    const ingresses = objs.filter((o) => o.kind === 'Ingress');
    expect(ingresses.length).toBeGreaterThan(0);
    for (const ing of ingresses) {
      const hosts = ing.spec.rules.map((r: any) => r.host);
      expect(
        ing.spec.tls?.flatMap((t: any) => t.hosts),
        ing.metadata.name,
      ).toEqual(hosts);
      expect(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/force-ssl-redirect'], ing.metadata.name).toBe('true');
    }
  });

  it('when the minikube overlay is read, then its TLS certificate is a Secret of type kubernetes.io/tls for every host', () => {
    const tls = named(minikube, 'Secret', 'mp3converter-tls')!;
    expect(tls.type).toBe('kubernetes.io/tls');
    const cert = Buffer.from(tls.data!['tls.crt']!, 'base64').toString();
    const san = new X509Certificate(cert).subjectAltName ?? '';
    for (const host of minikube.filter((o) => o.kind === 'Ingress').flatMap((i) => i.spec.rules.map((r: any) => r.host))) expect(san).toContain(`DNS:${host}`);
  });

  it('when cert-manager is switched on, then the gateway Ingress asks it for the certificate and its HTTP-01 solver is let in', () => {
    expect(named(certManager, 'Ingress', 'gateway')!.metadata.annotations?.['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
    expect(named(certManager, 'NetworkPolicy', 'cert-manager-http01-solver')).toBeDefined();
  });

  it.each(['gateway', 'auth'])('when %s is read, then its probes use the probe port, which no Service and no Ingress exposes', (name) => {
    const deployment = named(minikube, 'Deployment', name)!;
    const container = deployment.spec.template.spec.containers[0];
    const health = container.ports.find((p: any) => p.name === 'health');
    const config = named(minikube, 'ConfigMap', container.envFrom.find((f: any) => f.configMapRef).configMapRef.name)!;
    expect(health.containerPort).toBe(Number(config.data!.HEALTH_PORT));
    expect(health.containerPort).not.toBe(Number(config.data!.PORT));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(container[probe].httpGet.port, probe).toBe('health');
    const service = named(minikube, 'Service', name)!;
    expect(service.spec.ports.map((p: any) => p.targetPort)).toEqual(['http']);
  });
});

describe('MongoDB users', () => {
  /** Runs the init script the mongo image would run, against a recorder, with the variables the pod gets. */
  function initUsers(objs: K8s[]): { user: string; pwd: string; roles: { role: string; db: string }[] }[] {
    const created: any[] = [];
    const script = named(objs, 'ConfigMap', 'mongodb-init')!.data!['mongodb-init.js']!;
    const env = secretOf(objs, 'mongodb', 'StatefulSet');
    runInNewContext(script, { db: { getSiblingDB: (name: string) => ({ createUser: (u: any) => created.push({ ...u, db: name }) }) }, process: { env } });
    expect(created.every((u) => u.db === 'admin')).toBe(true);
    return created.map(({ user, pwd, roles }) => ({ user, pwd, roles }));
  }

  it('when the database starts for the first time, then it runs with a root login and creates one user per service with only its roles', () => {
    const mongo = named(minikube, 'StatefulSet', 'mongodb')!;
    const env = secretOf(minikube, 'mongodb', 'StatefulSet');
    expect(env.MONGO_INITDB_ROOT_USERNAME).toBeTruthy();
    expect(env.MONGO_INITDB_ROOT_PASSWORD!.length).toBeGreaterThanOrEqual(24);
    const mount = mongo.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.mountPath === '/docker-entrypoint-initdb.d');
    expect(mongo.spec.template.spec.volumes.find((v: any) => v.name === mount.name).configMap.name).toBe(
      named(minikube, 'ConfigMap', 'mongodb-init')!.metadata.name,
    );
    const roles = Object.fromEntries(initUsers(minikube).map((u) => [u.user, u.roles.map((r) => `${r.role}@${r.db}`).sort()]));
    expect(roles).toEqual({
      gateway: ['readWrite@mp3s', 'readWrite@videos', 'readWrite@webhooks'],
      converter: ['readWrite@mp3s', 'readWrite@videos'],
      notification: ['read@mp3s', 'read@videos', 'readWrite@notifications'],
      webhooks: ['readWrite@webhooks'],
    });
  });

  it.each(['gateway', 'converter', 'notification', 'webhooks'])(
    'when %s connects, then its MONGODB_URI carries its own user and that user’s password',
    (name) => {
      const uri = new URL(secretOf(minikube, name).MONGODB_URI!);
      const user = initUsers(minikube).find((u) => u.user === name)!;
      expect(decodeURIComponent(uri.username)).toBe(name);
      expect(decodeURIComponent(uri.password)).toBe(user.pwd);
      expect(uri.searchParams.get('authSource')).toBe('admin');
      expect(uri.host).toBe('mongodb:27017');
    },
  );
});

describe('RabbitMQ users', () => {
  const definitions = () => JSON.parse(Buffer.from(named(minikube, 'Secret', 'rabbitmq-definitions')!.data!['definitions.json']!, 'base64').toString());
  const permissions = (user: string) => definitions().permissions.find((p: any) => p.user === user);
  /** RabbitMQ's check of a password against a rabbit_password_hashing_sha256 hash. */
  const verifies = (hash: string, password: string) => {
    const raw = Buffer.from(hash, 'base64');
    return createHash('sha256')
      .update(Buffer.concat([raw.subarray(0, 4), Buffer.from(password)]))
      .digest()
      .equals(raw.subarray(4));
  };

  it('when the broker boots, then it loads the definitions from the Secret and the consumer timeout is one hour', () => {
    const conf = named(minikube, 'ConfigMap', 'rabbitmq-config')!.data!['20-mp3converter.conf']!;
    expect(conf).toMatch(/^consumer_timeout = 3600000$/m);
    const path = /^load_definitions = (.+)$/m.exec(conf)![1]!;
    const pod = named(minikube, 'StatefulSet', 'rabbitmq')!.spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: any) => path.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    expect(volume.secret.secretName).toBe(named(minikube, 'Secret', 'rabbitmq-definitions')!.metadata.name);
    expect(path.slice(mount.mountPath.length + 1)).toBe('definitions.json');
    expect(pod.containers[0].envFrom ?? []).toEqual([]);
  });

  it.each([
    ['gateway', 'gateway'],
    ['converter', 'converter'],
    ['notification', 'notification'],
    ['webhooks', 'webhooks'],
  ])('when %s connects, then it logs in as its own user whose password matches the hash the broker loads', (service, user) => {
    const url = new URL(secretOf(minikube, service).RABBITMQ_URL!);
    expect(decodeURIComponent(url.username)).toBe(user);
    const entry = definitions().users.find((u: any) => u.name === user);
    expect(entry.hashing_algorithm).toBe('rabbit_password_hashing_sha256');
    expect(entry.tags).toEqual([]);
    expect(verifies(entry.password_hash, decodeURIComponent(url.password))).toBe(true);
  });

  it('when the users are listed, then only the admin may manage, and no service uses it; KEDA may do nothing but look', () => {
    expect(
      definitions()
        .users.filter((u: any) => u.tags.length > 0)
        .map((u: any) => u.name),
    ).toEqual(['admin']);
    expect(permissions('keda')).toMatchObject({ configure: '^$', write: '^$', read: '^$' });
    const kedaUrl = new URL(secretEnv(keda, 'rabbitmq-keda').host!);
    expect(kedaUrl.username).toBe('keda');
    expect(named(keda, 'TriggerAuthentication', 'rabbitmq-keda')!.spec.secretTargetRef[0]).toMatchObject({ name: 'rabbitmq-keda', key: 'host' });
  });

  // [user, permission, name, allowed]
  const table: [string, 'configure' | 'write' | 'read', string, boolean][] = [
    ['gateway', 'configure', 'video', true],
    ['gateway', 'write', 'amq.default', true],
    ['gateway', 'write', 'job.control', true],
    ['gateway', 'write', 'job.events', true],
    ['gateway', 'read', 'job.events', true],
    ['gateway', 'read', 'amq.gen-Xy12', true],
    ['gateway', 'read', 'video', false],
    ['gateway', 'configure', 'mp3', false],
    ['gateway', 'read', 'mp3', false],
    ['converter', 'read', 'video', true],
    ['converter', 'configure', 'video.retry.5000ms', true],
    ['converter', 'read', 'video.retry.5000ms', true],
    ['converter', 'configure', 'video.dead', true],
    ['converter', 'write', 'job.events', true],
    ['converter', 'read', 'job.control', true],
    ['converter', 'read', 'mp3', false],
    ['converter', 'read', 'conversion.failed', false],
    ['converter', 'read', 'job.events', false],
    ['converter', 'configure', 'videos', false],
    ['notification', 'read', 'mp3', true],
    ['notification', 'read', 'conversion.failed.retry.30000ms', true],
    ['notification', 'configure', 'mp3.dead', true],
    ['notification', 'write', 'amq.default', true],
    ['notification', 'read', 'video', false],
    ['notification', 'configure', 'video', false],
    ['notification', 'read', 'job.events', false],
    ['notification', 'write', 'job.events', false],
    ['notification', 'configure', 'amq.gen-Xy12', false],
    ['webhooks', 'configure', 'webhooks.job-events', true],
    ['webhooks', 'configure', 'webhooks.job-events.retry.5000ms', true],
    ['webhooks', 'configure', 'webhooks.job-events.dead', true],
    ['webhooks', 'read', 'webhooks.job-events', true],
    ['webhooks', 'read', 'webhooks.job-events.dead', true],
    ['webhooks', 'write', 'webhooks.job-events', true],
    ['webhooks', 'read', 'job.events', true],
    ['webhooks', 'write', 'amq.default', true],
    ['webhooks', 'configure', 'job.events', false],
    ['webhooks', 'write', 'job.events', false],
    ['webhooks', 'write', 'job.control', false],
    ['webhooks', 'read', 'job.control', false],
    ['webhooks', 'read', 'video', false],
    ['webhooks', 'read', 'mp3', false],
    ['webhooks', 'configure', 'amq.gen-Xy12', false],
    ['webhooks', 'read', 'amq.gen-Xy12', false],
  ];
  it.each(table)('when %s asks for %s on %s, then allowed is %s', (user, perm, name, expected) => {
    expect(new RegExp(permissions(user)[perm]).test(name)).toBe(expected);
  });

  // [user, exchange, routing key, may publish]
  const topics: [string, string, string, boolean][] = [
    ['converter', 'job.events', 'job.progress', true],
    ['converter', 'job.events', 'job.done', true],
    ['converter', 'job.events', 'job.cancel', false],
    ['converter', 'job.events', 'job.done.x', false],
    ['converter', 'job.control', 'job.cancel', false],
    ['gateway', 'job.control', 'job.cancel', true],
    ['gateway', 'job.control', 'job.cancelx', false],
    ['gateway', 'job.events', 'job.queued', true],
    ['gateway', 'job.events', 'video', false],
    ['webhooks', 'job.events', 'job.done', false],
  ];
  it.each(topics)('when %s publishes to %s with key %s, then allowed is %s', (user, exchange, key, expected) => {
    const entry = definitions().topic_permissions.find((t: any) => t.user === user && t.exchange === exchange);
    expect(new RegExp(entry.write).test(key)).toBe(expected);
  });

  it.each([
    ['job.done', true],
    ['job.failed', true],
    ['job.cancelled', true],
    ['job.progress', false],
    ['job.#', false],
    ['#', false],
  ])('when the webhooks worker binds its queue to job.events with %s, then allowed is %s', (key, expected) => {
    const entry = definitions().topic_permissions.find((t: any) => t.user === 'webhooks' && t.exchange === 'job.events');
    expect(new RegExp(entry.read).test(key)).toBe(expected);
  });
});

describe('the mail catcher and the network plugin', () => {
  it('when the minikube Ingresses are read, then none serves the mail catcher: its page, every user’s mail, is reached with kubectl port-forward', () => {
    const backends = minikube
      .filter((o) => o.kind === 'Ingress')
      .flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => p.backend.service.name as string)));
    expect(backends.length).toBeGreaterThan(0);
    expect(backends).not.toContain('maildev');
  });

  it('when scripts/minikube.sh says how to start Minikube, then with Calico, a network plugin that enforces the NetworkPolicies', () => {
    const script = readFileSync(join(root, 'scripts/minikube.sh'), 'utf8');
    const starts = script.match(/minikube start[^`"\n]*/g) ?? [];
    expect(starts.length).toBeGreaterThan(0);
    for (const start of starts) expect(start).toContain('--cni=calico');
  });
});

describe('secrets and local tools', () => {
  it('when the minikube secrets are generated, then the seed user gets a random password, never the original’s Admin123', () => {
    const seed = secretOf(minikube, 'auth').SEED_USER_PASSWORD!;
    expect(seed).not.toBe('Admin123');
    expect(seed.length).toBeGreaterThanOrEqual(24);
    expect(readFileSync(join(root, 'scripts/minikube.sh'), 'utf8')).not.toContain('Admin123');
  });

  it('when docker-compose is read, then management pages are published on 127.0.0.1 only and RabbitMQ has the one-hour consumer timeout', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
    for (const name of ['rabbitmq', 'maildev']) {
      for (const p of compose.services[name].ports ?? []) expect(String(p), name).toMatch(/^127\.0\.0\.1:/);
    }
    const conf = compose.configs['rabbitmq-conf'].content as string;
    expect(conf).toMatch(/^consumer_timeout = 3600000$/m);
    expect(compose.services.rabbitmq.configs[0].source).toBe('rabbitmq-conf');
  });
});
