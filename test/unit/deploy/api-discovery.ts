import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Kubernetes kind the fake API server advertises. */
export interface KindInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Every apiVersion/kind the chart and deploy/istio may render (Kubernetes 1.35, Prometheus Operator, Istio). */
export const KNOWN_KINDS: Readonly<Record<string, KindInfo>> = {
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/Secret': { plural: 'secrets', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'apps/v1/Deployment': { plural: 'deployments', namespaced: true },
  'apps/v1/DaemonSet': { plural: 'daemonsets', namespaced: true },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'autoscaling/v2/HorizontalPodAutoscaler': { plural: 'horizontalpodautoscalers', namespaced: true },
  'monitoring.coreos.com/v1/ServiceMonitor': { plural: 'servicemonitors', namespaced: true },
  'monitoring.coreos.com/v1/PodMonitor': { plural: 'podmonitors', namespaced: true },
  'monitoring.coreos.com/v1/PrometheusRule': { plural: 'prometheusrules', namespaced: true },
  'security.istio.io/v1/AuthorizationPolicy': { plural: 'authorizationpolicies', namespaced: true },
  'networking.istio.io/v1/ServiceEntry': { plural: 'serviceentries', namespaced: true },
  'networking.istio.io/v1alpha3/EnvoyFilter': { plural: 'envoyfilters', namespaced: true },
  'install.istio.io/v1alpha1/IstioOperator': { plural: 'istiooperators', namespaced: true },
};

function groupVersions(): Map<string, { kind: string; info: KindInfo }[]> {
  const out = new Map<string, { kind: string; info: KindInfo }[]>();
  for (const [key, info] of Object.entries(KNOWN_KINDS)) {
    const i = key.lastIndexOf('/');
    const gv = key.slice(0, i);
    out.set(gv, [...(out.get(gv) ?? []), { kind: key.slice(i + 1), info }]);
  }
  return out;
}

/**
 * Serves only Kubernetes API discovery (/api, /apis, /api/v1, /apis/G/V) for KNOWN_KINDS, so that
 * `kubectl create --dry-run=client` can map kinds to resources without a cluster. Nothing else.
 */
export async function startDiscoveryServer(): Promise<{ url: string; close(): Promise<void> }> {
  const gvs = groupVersions();
  const resourceList = (gv: string) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: (gvs.get(gv) ?? []).map(({ kind, info }) => ({
      name: info.plural,
      singularName: kind.toLowerCase(),
      namespaced: info.namespaced,
      kind,
      verbs: ['create', 'get', 'list'],
    })),
  });
  const groups = [...gvs.keys()].filter((gv) => gv.includes('/'));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'] });
    if (path === '/api/v1') return send(200, resourceList('v1'));
    if (path === '/apis') {
      const byGroup = new Map<string, string[]>();
      for (const gv of groups) {
        const [g, v] = gv.split('/') as [string, string];
        byGroup.set(g, [...(byGroup.get(g) ?? []), v]);
      }
      return send(200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...byGroup].map(([name, versions]) => ({
          name,
          versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
    }
    const gv = path.replace(/^\/apis\//, '');
    if (path.startsWith('/apis/') && gvs.has(gv)) return send(200, resourceList(gv));
    return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
