// The example Ingress (k8s/ingress.yaml) lets through the bodies the gateway takes: nginx answers a body over its
// proxy-body-size with its own 413 page, before the gateway's limits and error shape have their say. Which
// Ingress serves a request is worked out as ingress-nginx does it (docs: user-guide/ingress-path-matching): when
// any Ingress of a host sets use-regex, every path of that host is a case-insensitive `^<path>` regular
// expression; the longest path is tried first.
import { loadConfig } from '@nso/config';
import { loadAll } from 'js-yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_MAX_BYTES } from '../clients/agent-body.reader';
import { JSON_BODY_MAX_BYTES } from './json-body';

const INGRESS = join(__dirname, '..', '..', '..', '..', 'k8s', 'ingress.yaml');

interface IngressDoc {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { rules: Array<{ host: string; http: { paths: Array<{ path: string; pathType: string }> } }> };
}

/** nginx's size syntax (client_max_body_size): bytes, or k/m/g (binary units); 0 means no limit. */
function nginxBytes(size: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(size);
  if (!match) throw new Error(`not an nginx size: ${size}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(match[1]) * unit;
}

const ingresses = (loadAll(readFileSync(INGRESS, 'utf8')) as IngressDoc[]).filter(
  (d) => d?.kind === 'Ingress',
);
const locations = ingresses.flatMap((ingress) =>
  ingress.spec.rules.flatMap((rule) =>
    rule.http.paths.map((path) => ({ ingress, host: rule.host, ...path })),
  ),
);

/** The Ingress nginx picks for a request path on `host`, and its body limit in bytes (1m when unset). */
function served(host: string, path: string): { name: string; maxBytes: number } {
  const ofHost = locations.filter((l) => l.host === host);
  const regex = ofHost.some(
    (l) => l.ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/use-regex'] === 'true',
  );
  // Without use-regex: Prefix matches whole path segments, Exact the path itself.
  const matches = (l: (typeof ofHost)[number]) =>
    regex
      ? new RegExp(`^${l.path}`, 'i').test(path)
      : l.pathType === 'Exact'
        ? path === l.path
        : l.path === '/' || path === l.path || path.startsWith(`${l.path.replace(/\/$/, '')}/`);
  const hit = [...ofHost].sort((a, b) => b.path.length - a.path.length).find(matches);
  if (!hit) throw new Error(`no Ingress serves ${path}`);
  const size = hit.ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '1m';
  return { name: hit.ingress.metadata.name, maxBytes: nginxBytes(size) };
}

describe('k8s/ingress.yaml body limits', () => {
  const host = 'netscan.example.com';
  const importMaxBytes = loadConfig({}).importMaxBytes; // IMPORT_MAX_BYTES' default

  it.each(['/api/scans/12/results/import', '/api/scans/12/results/import/'])(
    'lets an nmap XML import of up to IMPORT_MAX_BYTES through to the gateway: %s',
    (path) => {
      expect(importMaxBytes).toBe(512 * 1024 * 1024);
      expect(served(host, path).maxBytes).toBe(importMaxBytes);
    },
  );

  it.each(['/api/clients/agent-1/results', '/api/clients/agent-1/results/'])(
    'lets an agent’s results of up to RESULTS_MAX_BYTES through to the gateway: %s',
    (path) => {
      expect(served(host, path).maxBytes).toBe(RESULTS_MAX_BYTES);
    },
  );

  it.each([
    '/api/scans/start',
    '/api/scans/12',
    '/api/scans/12/results',
    '/api/scans/12/results/import/x',
    '/api/clients/agent-1/heartbeat',
    '/api/clients/agent-1/results/extra',
    '/auth/login',
    '/ws/scans/12',
    '/',
  ])('keeps the gateway’s JSON limit everywhere else: %s', (path) => {
    expect(served(host, path)).toEqual({ name: 'netscan', maxBytes: JSON_BODY_MAX_BYTES });
  });

  it('gives the large-body Ingresses regular-expression paths the admission webhook accepts', () => {
    for (const location of locations.filter((l) => l.ingress.metadata.name !== 'netscan')) {
      expect(location.pathType).toBe('ImplementationSpecific');
      expect(
        location.ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-request-buffering'],
      ).toBe('off');
    }
  });
});
