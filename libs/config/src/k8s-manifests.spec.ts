// Every manifest shipped in k8s/ is validated offline against the Kubernetes API schemas (kubernetes-models) and
// KEDA's (ScaledObject, TriggerAuthentication), as `kubectl apply --dry-run=server` would, without a cluster.
// Patches are validated merged into the object they patch. A kind without a schema here fails the test.
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { load, loadAll } from 'js-yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const K8S = join(__dirname, '..', '..', '..', 'k8s');

type Manifest = { apiVersion: string; kind: string; metadata?: { name?: string } } & Record<string, unknown>;
type Validating = new (data: never) => { validate(): void };

const MODELS: Record<string, Validating> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml')
    .sort();

function documents(path: string): Manifest[] {
  return loadAll(readFileSync(path, 'utf8')).filter(
    (doc): doc is Manifest => doc !== null && doc !== undefined,
  );
}

function validate(manifest: Manifest): void {
  const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new model(manifest as never).validate();
}

/** Kustomize's strategic merge, as far as these patches need it: maps merge, lists of named items merge by name. */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = (item: unknown) => (item as { name?: string } | null)?.name;
    if (!patch.every((item) => named(item) !== undefined)) return patch;
    const out = [...base];
    for (const item of patch) {
      const at = out.findIndex((b) => named(b) === named(item));
      if (at >= 0) out[at] = merge(out[at], item);
      else out.push(item);
    }
    return out;
  }
  if (base && patch && typeof base === 'object' && typeof patch === 'object' && !Array.isArray(patch)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(patch)) out[key] = merge(out[key], value);
    return out;
  }
  return patch;
}

describe('k8s manifests', () => {
  const all = yamlFiles(K8S).flatMap((file) => documents(join(K8S, file)).map((doc) => ({ file, doc })));

  it.each(all.map(({ file, doc }) => [`${file}: ${doc.kind} ${doc.metadata?.name}`, doc] as const))(
    '%s is valid',
    (_name, doc) => {
      expect(() => validate(doc)).not.toThrow();
    },
  );

  it.each(yamlFiles(join(K8S, 'patches')))('patches/%s is valid merged into what it patches', (file) => {
    for (const patch of documents(join(K8S, 'patches', file))) {
      const target = all.find(
        ({ doc }) => doc.kind === patch.kind && doc.metadata?.name === patch.metadata?.name,
      );
      expect(target).toBeDefined();
      expect(() => validate(merge(target!.doc, patch) as Manifest)).not.toThrow();
    }
  });

  it('the validation refuses what a cluster would refuse', () => {
    const deployment = all.find(({ doc }) => doc.kind === 'Deployment')!.doc;
    expect(() => validate({ ...deployment, spec: { replicas: 'three' } } as unknown as Manifest)).toThrow();
    const scaled = all.find(({ doc }) => doc.kind === 'ScaledObject')!.doc;
    expect(() => validate({ ...scaled, spec: { triggers: [] } } as unknown as Manifest)).toThrow();
    expect(() => validate({ apiVersion: 'v1', kind: 'Pod' } as Manifest)).toThrow(/no schema/);
  });

  it('lists only files that exist in kustomization.yaml, and every pool has its own queue in its ScaledObject', () => {
    const kustomization = load(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    const files = new Set(yamlFiles(K8S));
    for (const resource of kustomization.resources) expect(files.has(resource)).toBe(true);
    const deployments = new Map(
      all
        .filter(({ doc }) => doc.kind === 'Deployment')
        .map(({ doc }) => [doc.metadata?.name, doc as unknown as DeploymentDoc]),
    );
    const scaled = all
      .filter(({ doc }) => doc.kind === 'ScaledObject')
      .map(({ doc }) => doc as unknown as ScaledDoc);
    expect(scaled.length).toBeGreaterThanOrEqual(2);
    for (const object of scaled) {
      const target = deployments.get(object.spec.scaleTargetRef.name);
      expect(target).toBeDefined();
      const env = target!.spec.template.spec.containers[0].env ?? [];
      const clientId = env.find((e) => e.name === 'WORKER_CLIENT_ID')?.value ?? 'local'; // configmap.yaml
      const redis = object.spec.triggers.find((t) => t.type === 'redis');
      expect(redis?.metadata.listName).toBe(`nso:bull:scan-batches.${clientId}:wait`);
    }
  });
});

interface DeploymentDoc {
  spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
}
interface ScaledDoc {
  spec: {
    scaleTargetRef: { name: string };
    triggers: Array<{ type: string; metadata: Record<string, string> }>;
  };
}
