import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@mp3converter/shared/config';
import { SERVICE_CONFIGS } from './config-schemas.js';
import { type K8s, VARIANTS, named, prepareManifests, render, root, workloads } from './render.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const manifests = prepareManifests();
afterAll(() => manifests.cleanup());

const variants = Object.fromEntries(Object.entries(VARIANTS).map(([name, dir]) => [name, render(manifests.dir, dir)]));
const minikube = variants.minikube!;

async function modelFor(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const module = apiVersion.startsWith('keda.sh/')
    ? await import(`@kubernetes-models/keda/${apiVersion}/${kind}`)
    : apiVersion.startsWith('monitoring.coreos.com/')
      ? await import(`@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`)
      : await import(`kubernetes-models/${apiVersion}/${kind}`);
  return module[kind] ?? module.default;
}

describe.each(Object.entries(variants))('the %s manifests', (_name, objects) => {
  it('when every object is checked against the Kubernetes schemas, then all are valid', async () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const obj of objects) {
      const Model = await modelFor(obj.apiVersion, obj.kind);
      // kustomize folds long base64 values over lines, which the API server's decoder ignores
      const data = obj.kind === 'Secret' ? Object.fromEntries(Object.entries(obj.data ?? {}).map(([k, v]) => [k, v.replace(/\s/g, '')])) : obj.data;
      expect(() => new Model({ ...obj, data }).validate(), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    }
  });

  it('when each workload is read, then every container is probed, limited, non-root, read-only with a writable /tmp, and tagged', () => {
    for (const w of workloads(objects)) {
      const pod = w.spec.template.spec;
      const id = `${w.kind}/${w.metadata.name}`;
      expect(pod.securityContext?.runAsNonRoot, id).toBe(true);
      expect(pod.automountServiceAccountToken, id).toBe(false);
      for (const c of pod.containers) {
        expect(c.readinessProbe, `${id} readiness`).toBeDefined();
        expect(c.livenessProbe, `${id} liveness`).toBeDefined();
        expect(Object.keys(c.resources?.requests ?? {}).sort(), `${id} requests`).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources?.limits ?? {}).sort(), `${id} limits`).toEqual(['cpu', 'memory']);
        expect(c.securityContext, id).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        const tmp = c.volumeMounts?.find((m: any) => m.mountPath === '/tmp');
        expect(tmp, `${id} /tmp`).toBeDefined();
        expect(pod.volumes.find((v: any) => v.name === tmp.name)?.emptyDir, `${id} /tmp is an emptyDir`).toBeDefined();
        const [, tag] = /^[^:]+(?::(.+))?$/.exec(c.image) ?? [];
        expect(tag, `${id} image ${c.image} has a tag`).toBeDefined();
        expect(tag, `${id} image ${c.image}`).not.toBe('latest');
      }
    }
  });

  it('when each Service is read, then it selects the pods of a workload and its target ports exist there', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const selector = svc.spec.selector as Record<string, string>;
      const target = workloads(objects).find((w) => Object.entries(selector).every(([k, v]) => w.spec.template.metadata.labels?.[k] === v));
      expect(target, `Service/${svc.metadata.name} selects nothing`).toBeDefined();
      const ports = target!.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []);
      for (const p of svc.spec.ports) {
        const found = ports.some((cp: any) => cp.name === p.targetPort || cp.containerPort === p.targetPort);
        expect(found, `Service/${svc.metadata.name} targetPort ${p.targetPort}`).toBe(true);
      }
    }
  });

  it('when each Ingress is read, then every backend is an existing Service port', () => {
    for (const ing of objects.filter((o) => o.kind === 'Ingress')) {
      expect(ing.spec.ingressClassName).toBe('nginx');
      for (const rule of ing.spec.rules) {
        for (const path of rule.http.paths) {
          const { name, port } = path.backend.service;
          const svc = named(objects, 'Service', name);
          expect(svc, `Ingress/${ing.metadata.name} → Service/${name}`).toBeDefined();
          expect(
            svc!.spec.ports.some((p: any) => p.port === port.number),
            `Ingress/${ing.metadata.name} → ${name}:${port.number}`,
          ).toBe(true);
        }
      }
    }
  });
});

describe('the minikube overlay', () => {
  const services = SERVICE_CONFIGS;

  /** The environment a container gets: its envFrom ConfigMaps and Secrets, then its env entries. */
  function containerEnv(deployment: K8s): Record<string, string> {
    const container = deployment.spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const from of container.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      const source = named(minikube, from.configMapRef ? 'ConfigMap' : 'Secret', ref.name);
      expect(source, `${deployment.metadata.name} needs ${ref.name}`).toBeDefined();
      for (const [k, v] of Object.entries(source!.data ?? {})) env[k] = from.secretRef ? Buffer.from(v, 'base64').toString() : v;
    }
    for (const e of container.env ?? []) env[e.name] = e.value;
    return env;
  }

  const schemaKeys = (schema: any): string[] => Object.keys((schema.shape ?? schema.in?.shape ?? schema._zod?.def?.in?.shape) as object);

  it.each(Object.keys(services))('when %s starts with its ConfigMap and Secrets, then its config loads and names no unknown key', (name) => {
    const schema = services[name as keyof typeof services];
    const deployment = named(minikube, 'Deployment', name)!;
    const env = containerEnv(deployment);
    expect(() => loadConfig(schema as any, env)).not.toThrow();
    const known = schemaKeys(schema);
    expect(Object.keys(env).filter((k) => !known.includes(k))).toEqual([]);
    // The pod waits longer than the service drains.
    const drainSeconds = Number(env.SHUTDOWN_TIMEOUT_MS) / 1000;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
  });

  it.each(Object.keys(services))("when %s's .env.example is read, then it documents every key of the config", (name) => {
    const documented = readFileSync(join(root, 'services', name, '.env.example'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => l.split('=')[0]);
    expect(schemaKeys(services[name as keyof typeof services]).filter((k) => !documented.includes(k))).toEqual([]);
  });

  it("when the replicas are read, then they are the original's: auth 2, gateway 2, converter 4, notification 4 (and webhooks 2)", () => {
    const replicas = Object.fromEntries(
      ['auth', 'gateway', 'converter', 'notification', 'webhooks'].map((n) => [n, named(minikube, 'Deployment', n)!.spec.replicas]),
    );
    expect(replicas).toEqual({ auth: 2, gateway: 2, converter: 4, notification: 4, webhooks: 2 });
  });

  it("when the gateway Ingress is read, then its body limit equals the gateway's MAX_UPLOAD_BYTES, with long timeouts", () => {
    const ingress = named(minikube, 'Ingress', 'gateway')!;
    const annotations = ingress.metadata.annotations!;
    const [, amount, unit] = /^(\d+)([kmg]?)$/.exec(annotations['nginx.ingress.kubernetes.io/proxy-body-size']!)!;
    const bytes = Number(amount) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit!]!;
    expect(bytes).toBe(Number(containerEnv(named(minikube, 'Deployment', 'gateway')!).MAX_UPLOAD_BYTES));
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(600);
    expect(ingress.spec.rules[0].host).toBe('mp3converter.com');
    expect(named(minikube, 'Ingress', 'rabbitmq')!.spec.rules[0].host).toBe('rabbitmq-manager.com');
  });

  it('when the stores are read, then MySQL, MongoDB and RabbitMQ run in the cluster on persistent volumes', () => {
    for (const name of ['mysql', 'mongodb', 'rabbitmq']) {
      const set = named(minikube, 'StatefulSet', name);
      expect(set, name).toBeDefined();
      expect(set!.spec.volumeClaimTemplates?.[0]?.spec.resources.requests.storage, name).toBeDefined();
    }
  });

  it('when the committed files are read, then no secret value is in git, only examples', () => {
    const ignored = execFileSync('git', ['check-ignore', 'manifests/overlays/minikube/secrets/auth.env'], { cwd: root, encoding: 'utf8' });
    expect(ignored.trim()).toBe('manifests/overlays/minikube/secrets/auth.env');
  });
});

describe('metrics scraping', () => {
  const base = variants.base!;
  const monitoring = variants['base + monitoring']!;
  const scraped = ['gateway', 'auth', 'converter', 'notification', 'webhooks'];

  it.each(scraped)("when %s's pods are read, then they are annotated for scraping /metrics on the probe port, which is HEALTH_PORT", (name) => {
    const template = named(base, 'Deployment', name)!.spec.template;
    const container = template.spec.containers[0];
    const health = container.ports.find((p: any) => p.name === 'health');
    const config = named(base, 'ConfigMap', container.envFrom.find((f: any) => f.configMapRef).configMapRef.name)!;
    expect(template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(config.data!.HEALTH_PORT),
      'prometheus.io/path': '/metrics',
    });
    expect(health.containerPort).toBe(Number(config.data!.HEALTH_PORT));
  });

  it('when the monitoring component is on, then its PodMonitor scrapes the probe port of exactly the five services', () => {
    const monitor = named(monitoring, 'PodMonitor', 'mp3converter')!;
    expect(monitor.metadata.namespace).toBe('mp3converter');
    expect(monitor.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'health', path: '/metrics' })]);
    const [expression] = monitor.spec.selector.matchExpressions;
    const selected = workloads(monitoring).filter(
      (w) => expression.operator === 'In' && expression.values.includes(w.spec.template.metadata.labels[expression.key]),
    );
    expect(selected.map((w) => w.metadata.name).sort()).toEqual([...scraped].sort());
    for (const w of selected)
      expect(
        w.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'health'),
        w.metadata.name,
      ).toBe(true);
  });

  it('when the dashboard is read, then it is valid JSON for the Grafana sidecar and every metric it queries is one a service defines', () => {
    const map = named(monitoring, 'ConfigMap', 'mp3converter-dashboard')!;
    expect(map.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(map.data!['mp3converter.json']!);
    expect(dashboard.uid).toBe('mp3converter');
    const exprs: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const sources = execFileSync('git', ['grep', '-h', "name: '", '--', 'packages/shared/src/metrics', 'services/*/src/metrics.ts'], {
      cwd: root,
      encoding: 'utf8',
    });
    const defined = new Set([...sources.matchAll(/name: '([a-z_]+)'/g)].map((m) => m[1]));
    const queried = new Set(exprs.flatMap((e) => [...e.matchAll(/\b([a-z_]+)\{/g)].map((m) => m[1]!.replace(/_bucket$/, ''))));
    expect([...queried].filter((m) => !defined.has(m))).toEqual([]);
    for (const m of [
      'http_requests_total',
      'gateway_upload_bytes_total',
      'queue_messages',
      'converter_queue_wait_seconds',
      'notification_emails_total',
      'webhook_attempts_total',
    ]) {
      expect(queried.has(m), m).toBe(true);
    }
  });
});
