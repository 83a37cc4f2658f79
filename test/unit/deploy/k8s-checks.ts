import { KNOWN_KINDS } from './api-discovery.js';

/** A rendered Kubernetes object (parsed YAML). */
export type K8sObject = { readonly [key: string]: unknown };
type Obj = { readonly [key: string]: unknown };

const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** Container fields of the Kubernetes 1.35 core/v1 Container type (a typo is an unknown field). */
const CONTAINER_FIELDS = new Set(
  'name image imagePullPolicy command args workingDir ports envFrom env resources resizePolicy restartPolicy restartPolicyRules volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy securityContext stdin stdinOnce tty'.split(
    ' ',
  ),
);
/** Containers this project ships; the hardening rules apply to them. */
const OURS = new Set(['portcullis', 'control-plane']);

/** `kind/name` of an object. */
export function ref(o: K8sObject): string {
  return `${str(o.kind)}/${str(obj(o.metadata).name)}`;
}

function labelProblems(labels: Obj): string[] {
  return Object.entries(labels).flatMap(([k, v]) => {
    const [prefix, name] = k.includes('/') ? k.split('/', 2) : ['', k];
    const keyOk =
      LABEL_NAME.test(name ?? '') &&
      (name ?? '').length <= 63 &&
      (prefix === '' || DNS_SUBDOMAIN.test(prefix ?? ''));
    const valueOk = typeof v === 'string' && v.length <= 63 && LABEL_VALUE.test(v);
    return [
      ...(keyOk ? [] : [`invalid label key ${k}`]),
      ...(valueOk ? [] : [`invalid label value ${k}=${String(v)}`]),
    ];
  });
}

function metadataProblems(o: K8sObject): string[] {
  const key = `${str(o.apiVersion)}/${str(o.kind)}`;
  const info = KNOWN_KINDS[key];
  if (!info) return [`unknown apiVersion/kind ${key}`];
  const md = obj(o.metadata);
  const name = str(md.name);
  const out: string[] = [];
  const needsLabel = ['Service', 'Deployment', 'DaemonSet'].includes(str(o.kind));
  if (
    !(needsLabel ? DNS_LABEL.test(name) && name.length <= 63 : DNS_SUBDOMAIN.test(name) && name.length <= 253)
  )
    out.push(`invalid metadata.name ${JSON.stringify(name)}`);
  if (info.namespaced && !DNS_LABEL.test(str(md.namespace))) out.push('metadata.namespace missing');
  out.push(...labelProblems(obj(md.labels)));
  if (o.kind === 'ConfigMap') {
    for (const [k, v] of Object.entries(obj(o.data))) {
      if (!/^[-._a-zA-Z0-9]+$/.test(k) || typeof v !== 'string') out.push(`invalid data key ${k}`);
    }
  }
  return out;
}

/** Names of rendered ConfigMaps (with their keys), Secrets and ServiceAccounts, plus external ones. */
interface Inventory {
  readonly configMaps: Map<string, Set<string>>;
  readonly names: Set<string>;
  readonly external: ReadonlySet<string>;
}

function volumeProblems(spec: Obj, inv: Inventory): string[] {
  const out: string[] = [];
  const exists = (name: string, kind: string) => {
    if (!inv.names.has(`${kind}/${name}`) && !inv.external.has(name))
      out.push(`${kind} ${name} is neither rendered nor declared external`);
  };
  const items = (cm: string, its: Obj[]) => {
    const keys = inv.configMaps.get(cm);
    for (const it of its)
      if (keys && !keys.has(str(it.key))) out.push(`ConfigMap ${cm} has no key ${str(it.key)}`);
  };
  for (const v of list(spec.volumes)) {
    if (v.configMap) {
      exists(str(obj(v.configMap).name), 'ConfigMap');
      items(str(obj(v.configMap).name), list(obj(v.configMap).items));
    }
    if (v.secret) exists(str(obj(v.secret).secretName), 'Secret');
    for (const s of list(obj(v.projected).sources)) {
      if (s.configMap) {
        exists(str(obj(s.configMap).name), 'ConfigMap');
        items(str(obj(s.configMap).name), list(obj(s.configMap).items));
      }
      if (s.secret) exists(str(obj(s.secret).name), 'Secret');
    }
  }
  return out;
}

function containerProblems(c: Obj, init: boolean, volumes: Set<string>): string[] {
  const out: string[] = [];
  const name = str(c.name);
  for (const k of Object.keys(c))
    if (!CONTAINER_FIELDS.has(k)) out.push(`container ${name}: unknown field ${k}`);
  if (!str(c.image)) out.push(`container ${name}: no image`);
  const ports = new Set(list(c.ports).map((p) => str(p.name)));
  for (const p of list(c.ports)) {
    const n = p.containerPort;
    if (!PORT_NAME.test(str(p.name)) || str(p.name).length > 15)
      out.push(`container ${name}: invalid port name ${str(p.name)}`);
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 65535)
      out.push(`container ${name}: invalid containerPort ${String(n)}`);
  }
  const sidecar = init && c.restartPolicy === 'Always';
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    if (!c[probe]) continue;
    if (init && !sidecar) out.push(`init container ${name}: ${probe} is only allowed on native sidecars`);
    const get = obj(obj(c[probe]).httpGet);
    if (typeof get.port === 'string' && !ports.has(get.port))
      out.push(`container ${name}: ${probe} port ${get.port} is not a container port`);
    if (!str(get.path).startsWith('/')) out.push(`container ${name}: ${probe} has no httpGet path`);
  }
  for (const m of list(c.volumeMounts))
    if (!volumes.has(str(m.name))) out.push(`container ${name}: mount of unknown volume ${str(m.name)}`);
  if (OURS.has(name)) out.push(...hardeningProblems(c));
  return out;
}

function hardeningProblems(c: Obj): string[] {
  const sc = obj(c.securityContext);
  const res = obj(c.resources);
  const out: string[] = [];
  if (sc.runAsNonRoot !== true) out.push('securityContext.runAsNonRoot is not true');
  if (sc.allowPrivilegeEscalation !== false)
    out.push('securityContext.allowPrivilegeEscalation is not false');
  if (sc.readOnlyRootFilesystem !== true) out.push('securityContext.readOnlyRootFilesystem is not true');
  if (sc.privileged === true) out.push('securityContext.privileged is true');
  if (!(obj(sc.capabilities).drop as unknown[] | undefined)?.includes('ALL'))
    out.push('capabilities do not drop ALL');
  if (!obj(res.requests).cpu || !obj(res.requests).memory || !obj(res.limits).memory)
    out.push('resources lack cpu/memory requests or a memory limit');
  return out.map((p) => `container ${str(c.name)}: ${p}`);
}

/** Checks a pod spec: containers, ports, probes, mounts, volumes and the hardening of ours. */
export function podSpecProblems(spec: Obj, inv: Inventory): string[] {
  const volumes = new Set(list(spec.volumes).map((v) => str(v.name)));
  const all = [
    ...list(spec.initContainers).map((c) => [c, true] as const),
    ...list(spec.containers).map((c) => [c, false] as const),
  ];
  const out = all.flatMap(([c, init]) => containerProblems(c, init, volumes));
  const portNames = all.flatMap(([c]) => list(c.ports).map((p) => str(p.name)));
  const names = all.map(([c]) => str(c.name));
  if (new Set(portNames).size !== portNames.length) out.push('duplicate container port names in the pod');
  if (new Set(names).size !== names.length) out.push('duplicate container names in the pod');
  if (list(spec.containers).length === 0) out.push('no containers');
  const sa = str(spec.serviceAccountName);
  if (sa && sa !== 'default' && !inv.names.has(`ServiceAccount/${sa}`) && !inv.external.has(sa))
    out.push(`ServiceAccount ${sa} not rendered`);
  return [...out, ...volumeProblems(spec, inv)];
}

const matches = (selector: Obj, labels: Obj) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

function workloads(objects: readonly K8sObject[]): { o: K8sObject; labels: Obj; ports: Set<string> }[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')
    .map((o) => {
      const tpl = obj(obj(o.spec).template);
      const spec = obj(tpl.spec);
      const containers = [...list(spec.containers), ...list(spec.initContainers)];
      return {
        o,
        labels: obj(obj(tpl.metadata).labels),
        ports: new Set(containers.flatMap((c) => list(c.ports).map((p) => str(p.name)))),
      };
    });
}

function relationProblems(o: K8sObject, objects: readonly K8sObject[]): string[] {
  const spec = obj(o.spec);
  const pods = workloads(objects);
  const out: string[] = [];
  switch (o.kind) {
    case 'Deployment':
    case 'DaemonSet': {
      const tplLabels = obj(obj(obj(spec.template).metadata).labels);
      if (!matches(obj(obj(spec.selector).matchLabels), tplLabels))
        out.push('selector does not match the pod template labels');
      break;
    }
    case 'Service': {
      const selected = pods.filter((p) => matches(obj(spec.selector), p.labels));
      if (selected.length === 0) out.push('selector matches no rendered workload');
      const names = list(spec.ports).map((p) => str(p.name));
      if (new Set(names).size !== names.length) out.push('duplicate port names');
      for (const p of list(spec.ports)) {
        if (typeof p.targetPort === 'string' && !selected.some((w) => w.ports.has(p.targetPort as string)))
          out.push(`targetPort ${p.targetPort} is not a port of the selected pods`);
      }
      break;
    }
    case 'PodDisruptionBudget':
      if ((spec.minAvailable === undefined) === (spec.maxUnavailable === undefined))
        out.push('needs exactly one of minAvailable/maxUnavailable');
      if (!pods.some((p) => matches(obj(obj(spec.selector).matchLabels), p.labels)))
        out.push('selector matches no rendered workload');
      break;
    case 'HorizontalPodAutoscaler': {
      const t = obj(spec.scaleTargetRef);
      if (!objects.some((x) => x.kind === t.kind && obj(x.metadata).name === t.name))
        out.push(`scaleTargetRef ${str(t.kind)}/${str(t.name)} not rendered`);
      if (!((spec.minReplicas as number) <= (spec.maxReplicas as number)))
        out.push('minReplicas > maxReplicas');
      break;
    }
    case 'ServiceMonitor': {
      const svcs = objects.filter(
        (x) =>
          x.kind === 'Service' && matches(obj(obj(spec.selector).matchLabels), obj(obj(x.metadata).labels)),
      );
      if (svcs.length === 0) out.push('selector matches no rendered Service');
      for (const e of list(spec.endpoints)) {
        if (!svcs.some((s) => list(obj(s.spec).ports).some((p) => p.name === e.port)))
          out.push(`endpoint port ${str(e.port)} is not a port of the selected Services`);
      }
      break;
    }
    case 'PodMonitor': {
      const selected = pods.filter((p) => matches(obj(obj(spec.selector).matchLabels), p.labels));
      for (const e of list(spec.podMetricsEndpoints)) {
        if (selected.length > 0 && !selected.some((w) => w.ports.has(str(e.port))))
          out.push(`endpoint port ${str(e.port)} is not a port of the selected pods`);
      }
      break;
    }
    case 'PrometheusRule': {
      const rules = list(spec.groups).flatMap((g) => list(g.rules));
      if (rules.length === 0) out.push('no rules');
      for (const r of rules)
        if (!str(r.expr) || (r.record === undefined) === (r.alert === undefined))
          out.push('a rule needs expr and exactly one of record/alert');
      break;
    }
  }
  return out;
}

/**
 * Offline structural validation of rendered objects: apiVersion/kind pairs, names and labels,
 * pod specs (ports, probes, mounts, volumes, hardening), and the references between objects.
 * `external` lists ConfigMap/Secret/ServiceAccount names that exist outside the render.
 */
export function checkObjects(
  objects: readonly K8sObject[],
  external: ReadonlySet<string> = new Set(),
): string[] {
  const inv: Inventory = { configMaps: new Map(), names: new Set(), external };
  for (const o of objects) {
    inv.names.add(`${str(o.kind)}/${str(obj(o.metadata).name)}`);
    if (o.kind === 'ConfigMap')
      inv.configMaps.set(str(obj(o.metadata).name), new Set(Object.keys(obj(o.data))));
  }
  const seen = new Set<string>();
  return objects.flatMap((o) => {
    const id = ref(o);
    const dup = seen.has(id) ? ['rendered twice'] : [];
    seen.add(id);
    const pod =
      o.kind === 'Deployment' || o.kind === 'DaemonSet'
        ? podSpecProblems(obj(obj(obj(o.spec).template).spec), inv)
        : [];
    return [...dup, ...metadataProblems(o), ...pod, ...relationProblems(o, objects)].map(
      (p) => `${id}: ${p}`,
    );
  });
}
