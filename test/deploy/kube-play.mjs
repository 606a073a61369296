// Turns the shipped k8s/ manifests into what `podman kube play` (podman 4.3) runs on one machine, changing only
// what a kustomize overlay for this machine would change, and nothing a pod runs with:
// - the ConfigMap (k8s/configmap.yaml) as it is;
// - the gateway, worker and delta Deployments as they are, except: the image (kustomization.yaml's `images:`
//   points at a registry; here the locally built tag), one replica each, and the gateway's port published on
//   127.0.0.1:<host port> only (podman 4.3 publishes every containerPort on all of the host's addresses, on the
//   containerPort itself: 3000 would clash with anything else on the machine);
// - the Secret from k8s/secret.example.yaml, as the file podman's secret store expects (`podman secret create`:
//   JSON of base64 values; podman 4.3 stores a Secret document given to kube play as YAML and then cannot read
//   it back), with every key of the example filled from the environment.
//
//   node test/deploy/kube-play.mjs <out dir> <image> <gateway host port>
//   (DATABASE_URL, REDIS_URL, ADMIN_PASSWORD in the environment) → <out dir>/play.yaml, <out dir>/secret.json
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const { dump, loadAll } = require('js-yaml');

const [outDir, image, hostPort] = process.argv.slice(2);
if (!outDir || !image || !/^\d+$/.test(hostPort ?? '')) {
  console.error('usage: kube-play.mjs <out dir> <image> <gateway host port>');
  process.exit(2);
}

const load = (file) => loadAll(readFileSync(join('k8s', file), 'utf8')).filter(Boolean);
const configMaps = load('configmap.yaml').filter((d) => d.kind === 'ConfigMap');
const deployments = ['gateway.yaml', 'worker.yaml', 'delta.yaml'].flatMap((file) =>
  load(file).filter((d) => d.kind === 'Deployment'),
);
if (configMaps.length !== 1 || deployments.length !== 3) {
  console.error('expected one ConfigMap and three Deployments in k8s/');
  process.exit(1);
}
for (const deployment of deployments) {
  deployment.spec.replicas = 1;
  for (const container of deployment.spec.template.spec.containers) {
    container.image = image;
    for (const port of container.ports ?? []) {
      port.hostIP = '127.0.0.1';
      port.hostPort = Number(hostPort);
    }
  }
}
writeFileSync(join(outDir, 'play.yaml'), [...configMaps, ...deployments].map((d) => dump(d)).join('---\n'));

const [secret] = load('secret.example.yaml').filter((d) => d.kind === 'Secret');
const data = {};
for (const key of Object.keys(secret.stringData)) {
  const value = process.env[key];
  if (!value) {
    console.error(`secret.example.yaml holds ${key}: set it for the test`);
    process.exit(1);
  }
  data[key] = Buffer.from(value).toString('base64');
}
writeFileSync(join(outDir, 'secret.json'), JSON.stringify(data));
console.log(`${secret.metadata.name}`);
