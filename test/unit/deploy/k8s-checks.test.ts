import { describe, expect, it } from 'vitest';
import { checkObjects, type K8sObject } from './k8s-checks.js';

// The offline checker must find what it promises to find, or the chart tests prove nothing.
const labels = { 'app.kubernetes.io/name': 'portcullis' };
const container = () => ({
  name: 'portcullis',
  image: 'ghcr.io/portcullis-dev/portcullis:0.1.0',
  ports: [{ name: 'pcls-admin', containerPort: 9193 }],
  readinessProbe: { httpGet: { path: '/readyz', port: 'pcls-admin' } },
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  securityContext: {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  },
  volumeMounts: [{ name: 'config', mountPath: '/etc/portcullis/config' }],
});
const good = (): K8sObject[] => [
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'p-config', namespace: 'shop' },
    data: { 'portcullis.yaml': '{}' },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'p', namespace: 'shop', labels },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [container()], volumes: [{ name: 'config', configMap: { name: 'p-config' } }] },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'p', namespace: 'shop', labels },
    spec: { selector: labels, ports: [{ name: 'http-admin', port: 9193, targetPort: 'pcls-admin' }] },
  },
];

// biome-ignore lint/suspicious/noExplicitAny: the mutations reach into untyped object literals
type Loose = any;
type Mutate = (o: { cm: Loose; dep: Loose; svc: Loose; c: Loose }) => void;

describe('checkObjects', () => {
  it('accepts a consistent set of objects', () => {
    expect(checkObjects(good())).toEqual([]);
  });

  it.each<[string, Mutate, RegExp]>([
    ['an unknown kind', ({ svc }) => (svc.apiVersion = 'v2'), /unknown apiVersion\/kind v2\/Service/],
    ['an invalid name', ({ svc }) => (svc.metadata.name = 'P_1'), /invalid metadata.name/],
    ['a missing namespace', ({ cm }) => delete cm.metadata.namespace, /metadata.namespace missing/],
    ['an invalid label value', ({ dep }) => (dep.metadata.labels = { a: 'x y' }), /invalid label value/],
    [
      'a selector that misses the template',
      ({ dep }) => (dep.spec.selector.matchLabels = { x: 'y' }),
      /selector does not match/,
    ],
    ['a misspelt container field', ({ c }) => (c.volumeMount = []), /unknown field volumeMount/],
    [
      'a port name over 15 characters',
      ({ c }) => (c.ports[0].name = 'portcullis-admin'),
      /invalid port name/,
    ],
    [
      'a probe on an unknown port',
      ({ c }) => (c.readinessProbe.httpGet.port = 'admin'),
      /readinessProbe port admin/,
    ],
    [
      'a mount of a missing volume',
      ({ c }) => (c.volumeMounts[0].name = 'cfg'),
      /mount of unknown volume cfg/,
    ],
    [
      'a ConfigMap that is not rendered',
      ({ dep }) => (dep.spec.template.spec.volumes[0].configMap.name = 'other'),
      /ConfigMap other is neither rendered/,
    ],
    [
      'a root filesystem that is writable',
      ({ c }) => (c.securityContext.readOnlyRootFilesystem = false),
      /readOnlyRootFilesystem is not true/,
    ],
    [
      'privilege escalation',
      ({ c }) => delete c.securityContext.allowPrivilegeEscalation,
      /allowPrivilegeEscalation is not false/,
    ],
    [
      'capabilities not dropped',
      ({ c }) => (c.securityContext.capabilities.drop = ['NET_RAW']),
      /do not drop ALL/,
    ],
    ['root', ({ c }) => (c.securityContext.runAsNonRoot = false), /runAsNonRoot is not true/],
    ['no memory limit', ({ c }) => delete c.resources.limits, /memory limit/],
    [
      'a Service selecting nothing',
      ({ svc }) => (svc.spec.selector = { x: 'y' }),
      /selector matches no rendered workload/,
    ],
    [
      'a Service targetPort the pods lack',
      ({ svc }) => (svc.spec.ports[0].targetPort = 'pcls-grpc'),
      /targetPort pcls-grpc/,
    ],
    [
      'a probe on a plain init container',
      ({ dep, c }) => (dep.spec.template.spec.initContainers = [{ ...c, name: 'init' }]),
      /only allowed on native sidecars/,
    ],
    ['an object rendered twice', ({ cm }) => void cm, /rendered twice/],
  ])('finds %s', (name, mutate, problem) => {
    const objects = good() as Loose[];
    const [cm, dep, svc] = objects;
    mutate({ cm, dep, svc, c: dep.spec.template.spec.containers[0] });
    if (name === 'an object rendered twice') objects.push(structuredClone(cm));
    const problems = checkObjects(objects);
    expect(
      problems.some((p) => problem.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });
});
