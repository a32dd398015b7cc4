import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type K8s, OFFLINE_ONLY_GROUPS, VARIANTS, prepareManifests, render, workloads } from './render.js';

/*
 * The manifests applied to a real control plane (etcd, kube-apiserver, kube-controller-manager on loopback,
 * started by scripts/test.sh): the server validates every object strictly, Pod Security admission judges every
 * pod template, and the controllers create the pods. No node runs them here (scripts/cluster.sh goes further).
 */
const kubeconfig = process.env.TEST_KUBECONFIG;
const kubectlBin = process.env.KUBECTL_BIN ?? 'kubectl';
const kedaCrds = process.env.KEDA_CRDS;

function kubectl(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(kubectlBin, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function applyFile(file: string, ...extra: string[]): { code: number; stdout: string; stderr: string } {
  return kubectl(['apply', '--server-side', '--field-manager=mp3converter-test', ...extra, '-f', file]);
}

const getJson = (args: string[]) => {
  const r = kubectl(['get', ...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { items: any[] };
};

/** JSON, not YAML: kubectl reads YAML 1.1, where an unquoted `off` or `yes` would become a boolean. */
const asList = (items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

/** Each variant goes into its own namespace, so they can be checked side by side. */
function intoNamespace(objects: K8s[], ns: string): K8s[] {
  return objects.map((o) => (o.kind === 'Namespace' ? { ...o, metadata: { ...o.metadata, name: ns } } : { ...o, metadata: { ...o.metadata, namespace: ns } }));
}

interface PodCensus {
  wanted: Record<string, number>;
  created: Record<string, number>;
  failures: string[];
}

function census(ns: string): PodCensus {
  const wanted: Record<string, number> = {};
  const created: Record<string, number> = {};
  for (const kind of ['deployments', 'statefulsets']) {
    for (const w of getJson([kind, '-n', ns]).items) {
      const id = `${w.kind}/${w.metadata.name}`;
      wanted[id] = w.spec.replicas;
      created[id] = w.status?.replicas ?? 0;
    }
  }
  const failures = getJson(['events', '-n', ns])
    .items.filter((e) => e.reason === 'FailedCreate' || (e.type === 'Warning' && /replicaset|statefulset/i.test(e.source?.component ?? '')))
    .map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}: ${e.reason}: ${e.message}`);
  return { wanted, created, failures };
}

async function untilSettled(ns: string, timeoutMs = 90_000): Promise<PodCensus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = census(ns);
    const complete = Object.keys(c.wanted).every((id) => c.created[id] === c.wanted[id]);
    if (c.failures.length > 0 || complete || Date.now() > deadline) return c;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

const manifests = kubeconfig ? prepareManifests() : undefined;
afterAll(() => manifests?.cleanup());

describe.skipIf(!kubeconfig)('the manifests on a real API server with its controllers', () => {
  it('when a pod would run as root, or an object carries an unknown field, then the server says so: the checks below are live', async () => {
    const ns = 'canary';
    const [namespace] = render(manifests!.dir, 'base').filter((o) => o.kind === 'Namespace');
    const file = join(manifests!.dir, 'canary.yaml');
    const rootPod = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'as-root', namespace: ns },
      spec: {
        selector: { matchLabels: { app: 'as-root' } },
        template: { metadata: { labels: { app: 'as-root' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
      },
    };
    writeFileSync(file, asList([intoNamespace([namespace!], ns)[0]!, rootPod]));
    const applied = applyFile(file);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toMatch(/would violate PodSecurity "restricted:latest"/);
    const settled = await untilSettled(ns, 30_000);
    expect(settled.failures.join('\n')).toMatch(/FailedCreate.*violates PodSecurity "restricted:latest"/);

    writeFileSync(file, asList([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: ns }, data: {}, colour: 'red' }]));
    // kubectl's own check switched off: the server refuses it
    const strict = applyFile(file, '--validate=false');
    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toMatch(/\.colour: field not declared in schema/);
  });

  it.each(Object.entries(VARIANTS))(
    'when the %s manifests are applied with server-side apply, then every object is accepted without a warning and the controllers create every pod',
    async (name, dir) => {
      const ns = `mp3converter-${name.replace(/[^a-z0-9]+/g, '-')}`;
      if (name.includes('keda')) {
        // KEDA's own CRDs first (pinned in scripts/lib/kube.sh), as a cluster with KEDA has them.
        expect(kedaCrds, 'KEDA_CRDS').toBeDefined();
        for (const f of readdirSync(kedaCrds!).filter((f) => /^keda\.sh_(scaledobjects|triggerauthentications)\.yaml$/.test(f))) {
          const crd = applyFile(join(kedaCrds!, f));
          expect(crd.code, crd.stderr).toBe(0);
        }
        const established = kubectl([
          'wait',
          '--for=condition=established',
          '--timeout=60s',
          'crd/scaledobjects.keda.sh',
          'crd/triggerauthentications.keda.sh',
        ]);
        expect(established.code, established.stderr).toBe(0);
      }
      const objects = intoNamespace(
        render(manifests!.dir, dir).filter((o) => !OFFLINE_ONLY_GROUPS.some((g) => o.apiVersion.startsWith(g))),
        ns,
      );
      const file = join(manifests!.dir, `${ns}.yaml`);
      writeFileSync(file, asList(objects));

      const applied = applyFile(file);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stderr.trim(), 'warnings or errors from the server').toBe('');
      expect(applied.stdout.trim().split('\n')).toHaveLength(objects.length);

      const labels = getJson(['namespaces', '--field-selector', `metadata.name=${ns}`]).items[0].metadata.labels;
      for (const mode of ['enforce', 'warn', 'audit']) expect(labels[`pod-security.kubernetes.io/${mode}`], mode).toBe('restricted');

      const settled = await untilSettled(ns);
      expect(settled.failures, 'pods the controllers could not create').toEqual([]);
      expect(settled.created).toEqual(settled.wanted);
      const pods = getJson(['pods', '-n', ns]).items;
      const wanted = Object.values(settled.wanted).reduce((a, b) => a + b, 0);
      expect(pods).toHaveLength(wanted);
      expect(wanted).toBeGreaterThanOrEqual(workloads(objects).length);
    },
  );
});
