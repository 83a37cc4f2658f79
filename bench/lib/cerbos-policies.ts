import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConditionName, RuleModel, ServiceModel } from './mesh-model.js';

/** Each condition in Cerbos's vocabulary: the token is `request.aux_data.jwt`, the route is the resource. */
export const CERBOS_CONDITIONS: Record<ConditionName, string> = {
  'same-tenant': 'request.aux_data.jwt.tenant == request.resource.attr.tenant',
  'managed-device': 'request.resource.attr.devicePosture.startsWith("managed=true")',
  'has-read-scope': '"orders:read" in request.aux_data.jwt.scope.split(" ")',
  suspended: 'has(request.aux_data.jwt.suspended) && request.aux_data.jwt.suspended == true',
};

function callerExpr(rule: RuleModel): string[] {
  if (rule.callers.length === 0) return [];
  const alternatives = rule.callers.map(
    (c) =>
      `(request.principal.attr.namespace == "${c.namespace}" && ` +
      `request.principal.attr.serviceAccount == "${c.serviceAccount}")`,
  );
  return [
    'request.principal.attr.trustDomain == "cluster.local"',
    alternatives.length === 1 ? alternatives[0]! : `(${alternatives.join(' || ')})`,
  ];
}

function pathExpr(rule: RuleModel): string {
  return rule.path.endsWith('/')
    ? `request.resource.attr.path.startsWith("${rule.path}")`
    : `request.resource.attr.path == "${rule.path}"`;
}

/** One Cerbos resource-policy rule for a mesh rule: actions = methods, roles, one `all` condition. */
function cerbosRule(rule: RuleModel): Record<string, unknown> {
  const exprs = [...callerExpr(rule), pathExpr(rule), ...rule.conditions.map((c) => CERBOS_CONDITIONS[c])];
  return {
    name: rule.id,
    actions: rule.methods.length === 0 ? ['*'] : [...rule.methods],
    effect: rule.effect === 'ALLOW' ? 'EFFECT_ALLOW' : 'EFFECT_DENY',
    roles: rule.roles.length === 0 ? ['*'] : [...rule.roles],
    condition: { match: { all: { of: exprs.map((expr) => ({ expr })) } } },
  };
}

/** Renders one service as a Cerbos resource policy (kind = service name). */
export function cerbosPolicy(service: ServiceModel): Record<string, unknown> {
  return {
    apiVersion: 'api.cerbos.dev/v1',
    resourcePolicy: { version: 'default', resource: service.name, rules: service.rules.map(cerbosRule) },
  };
}

/** Writes one Cerbos policy file per service into `dir`. */
export async function writeCerbosPolicies(services: readonly ServiceModel[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const service of services) {
    await writeFile(join(dir, `${service.name}.yaml`), stringify(cerbosPolicy(service)));
  }
}
