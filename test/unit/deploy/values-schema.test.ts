import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { GENERATED_DOCS } from '../../../src/cli/docs-generate.js';
import { configSchema } from '../../../src/config/schema.js';
import { CHART } from './kube-tools.js';

const SCHEMA_FILE = 'helm/portcullis/values.schema.json';
const committed = readFileSync(join(CHART, 'values.schema.json'), 'utf8');
const schema = JSON.parse(committed) as {
  properties: Record<string, { properties?: Record<string, unknown> }>;
};
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
const defaults = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const CI_FILES = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml'));

/** Helm's value merge: maps merge, everything else replaces. */
function merge(base: unknown, over: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/** The schema errors of defaults + `overrides`, as `path message` strings. */
function errorsOf(overrides: unknown): string[] {
  if (validate(merge(structuredClone(defaults), overrides))) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe('helm/portcullis/values.schema.json', () => {
  it('is what `portcullis docs generate` renders (config part from the zod schema): run `make docs` when this fails', () => {
    const render = GENERATED_DOCS[SCHEMA_FILE];
    expect(render).toBeTypeOf('function');
    expect(render?.()).toBe(committed);
  });

  it('covers every top-level section of the Portcullis config schema', () => {
    const config = schema.properties.config?.properties ?? {};
    expect(Object.keys(config).sort()).toEqual(Object.keys(configSchema.shape).sort());
  });

  it.each(['values.yaml', ...CI_FILES])('accepts %s', (f) => {
    const values = f === 'values.yaml' ? {} : parseYaml(readFileSync(join(CHART, 'ci', f), 'utf8'));
    expect(errorsOf(values)).toEqual([]);
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown mode', { mode: 'mesh' }, /^\/mode must be equal to one of the allowed values/],
    [
      'privileged containers',
      { securityContext: { privileged: true } },
      /^\/securityContext\/privileged must be equal to constant/,
    ],
    [
      'privilege escalation',
      { securityContext: { allowPrivilegeEscalation: true } },
      /allowPrivilegeEscalation must be equal to constant/,
    ],
    ['root', { securityContext: { runAsNonRoot: false } }, /runAsNonRoot must be equal to constant/],
    [
      'a writable root filesystem',
      { securityContext: { readOnlyRootFilesystem: false } },
      /readOnlyRootFilesystem must be equal to constant/,
    ],
    [
      'capabilities that are kept',
      { securityContext: { capabilities: { drop: ['NET_RAW'] } } },
      /capabilities\/drop must contain at least 1 valid item/,
    ],
    [
      'added capabilities',
      { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } } },
      /capabilities\/add must NOT have more than 0 items/,
    ],
    [
      'a string port in config',
      { config: { server: { grpc: { port: '9191' } } } },
      /^\/config\/server\/grpc\/port must be integer/,
    ],
    [
      'a port out of range',
      { config: { server: { admin: { port: 70000 } } } },
      /^\/config\/server\/admin\/port must be <= 65535/,
    ],
    [
      'an unknown config key',
      { config: { server: { grcp: {} } } },
      /^\/config\/server must NOT have additional properties/,
    ],
    [
      'an unknown config section',
      { config: { policies: {} } },
      /^\/config must NOT have additional properties/,
    ],
    [
      'an unknown log level',
      { config: { telemetry: { log: { level: 'loud' } } } },
      /^\/config\/telemetry\/log\/level must be equal to one of the allowed values/,
    ],
    [
      'a non-boolean flag',
      { config: { identity: { jwt: { required: 'yes' } } } },
      /^\/config\/identity\/jwt\/required must be boolean/,
    ],
    ['an unknown chart value', { replicas: 3 }, /^ must NOT have additional properties/],
    [
      'a StatefulSet',
      { gateway: { kind: 'StatefulSet' } },
      /^\/gateway\/kind must be equal to one of the allowed values/,
    ],
    ['a tag as digest', { image: { digest: 'latest' } }, /^\/image\/digest must match pattern/],
    [
      'a trust bundle without a source',
      { trustBundles: [{ trustDomain: 'a.org' }] },
      /^\/trustBundles\/0 must match exactly one schema/,
    ],
    [
      'a trust bundle with two sources',
      {
        trustBundles: [
          { trustDomain: 'a.org', secret: { name: 'a', key: 'b' }, configMap: { name: 'c', key: 'd' } },
        ],
      },
      /^\/trustBundles\/0 must match exactly one schema/,
    ],
    [
      'a PEM that is no certificate',
      { trustBundles: [{ trustDomain: 'a.org', pem: 'hello' }] },
      /^\/trustBundles\/0\/pem must match pattern/,
    ],
    [
      'a policy file name with a slash',
      { policies: { files: { 'a/b.yaml': 'x' } } },
      /^\/policies\/files must match pattern/,
    ],
    [
      'an HPA target above 100 %',
      { autoscaling: { targetCPUUtilizationPercentage: 150 } },
      /targetCPUUtilizationPercentage must be <= 100/,
    ],
    [
      'a probe without a period',
      { probes: { liveness: { enabled: true, periodSeconds: 0 } } },
      /^\/probes\/liveness\/periodSeconds must be >= 1/,
    ],
    [
      'an invalid scrape interval',
      { metrics: { podMonitor: { enabled: true, interval: 'often' } } },
      /^\/metrics\/podMonitor\/interval must match pattern/,
    ],
  ])('rejects %s', (_name, overrides, message) => {
    const errors = errorsOf(overrides);
    expect(
      errors.some((e) => message.test(e)),
      errors.join('\n'),
    ).toBe(true);
  });
});
