import { readFileSync } from 'node:fs';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import type { K8sObject } from './k8s-checks.js';
import { CHART, type KubeTools, run } from './kube-tools.js';

type Obj = { readonly [key: string]: unknown };
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);

/** Namespace every test render uses. */
export const NAMESPACE = 'shop';

/** `helm template` of `chart` (default: the Portcullis chart); throws with helm's message on failure. */
export async function helmTemplate(
  tools: KubeTools,
  args: readonly string[],
  chart = CHART,
): Promise<K8sObject[]> {
  const r = await run(tools.helm, ['template', 'rel', chart, '--namespace', NAMESPACE, ...args]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** The object of `kind` (and name suffix), or a thrown error naming what was rendered. */
export function find(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const o = objects.find((x) => x.kind === kind && String(obj(x.metadata).name).endsWith(nameSuffix));
  if (!o)
    throw new Error(
      `no ${kind} *${nameSuffix} in ${objects.map((x) => `${x.kind}/${obj(x.metadata).name}`).join(', ')}`,
    );
  return o;
}

/** The pod spec of a Deployment/DaemonSet. */
export function podSpec(workload: K8sObject): Obj {
  return obj(obj(obj(workload.spec).template).spec);
}

/** Every container (init containers first) of a pod spec. */
export function containers(spec: Obj): Obj[] {
  return [...list(spec.initContainers), ...list(spec.containers)];
}

/** Names of ConfigMaps/Secrets/ServiceAccounts a values file says exist outside the chart. */
export function externalNames(valuesFile: string): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, parent: string) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, parent);
      return;
    }
    for (const [k, x] of Object.entries(obj(v))) {
      if (typeof x === 'string' && (k === 'existingConfigMap' || k === 'secretName')) out.add(x);
      if (typeof x === 'string' && k === 'name' && (parent === 'configMap' || parent === 'secret'))
        out.add(x);
      walk(x, k);
    }
  };
  walk(parseYaml(readFileSync(valuesFile, 'utf8')), '');
  return out;
}

/**
 * Checks that `path` (a file or directory named in the rendered config) is provided by a volume
 * mounted in `container`: a directory must be a mount point; a file must be an item path of a
 * projected/configMap volume at that mount (or any key of a ConfigMap mounted whole).
 */
export function mountedPathProblem(
  path: string,
  isDir: boolean,
  container: Obj,
  spec: Obj,
  objects: readonly K8sObject[],
): string | undefined {
  const mount = list(container.volumeMounts).find(
    (m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`),
  );
  if (!mount) return `${path} is not under any volume mount`;
  const rest = path.slice(String(mount.mountPath).length + 1);
  if (isDir) return rest === '' ? undefined : `${path} is not a mount point`;
  const volume = list(spec.volumes).find((v) => v.name === mount.name);
  const items = [
    ...list(obj(volume?.configMap).items),
    ...list(obj(volume?.projected).sources).flatMap((s) => [
      ...list(obj(s.configMap).items),
      ...list(obj(s.secret).items),
    ]),
  ];
  if (items.some((i) => i.path === rest)) return undefined;
  const cmName = obj(volume?.configMap).name;
  const cm = objects.find((o) => o.kind === 'ConfigMap' && obj(o.metadata).name === cmName);
  if (cm && items.length === 0 && rest in obj(cm.data)) return undefined;
  return `${path}: no file ${rest} in volume ${String(mount.name)}`;
}

/** Paths the Portcullis config names: [path, isDirectory]. */
export function configPaths(config: Obj): [string, boolean][] {
  const policy = obj(config.policy);
  const bundle = obj(config.bundle);
  const spiffe = obj(obj(config.identity).spiffe);
  return [
    ...(typeof policy.dir === 'string' ? [[policy.dir, true] as [string, boolean]] : []),
    ...(typeof bundle.lkgDir === 'string' ? [[bundle.lkgDir, true] as [string, boolean]] : []),
    ...list(spiffe.trustBundles).map((b) => [String(b.file), false] as [string, boolean]),
    ...(Array.isArray(obj(bundle.keys).files)
      ? (obj(bundle.keys).files as string[]).map((f) => [f, false] as [string, boolean])
      : []),
  ];
}
