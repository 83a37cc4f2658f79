import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConditionName, RuleModel, ServiceModel } from './mesh-model.js';

/** Each condition in Portcullis's CEL vocabulary (`principal`, `request`). */
export const PORTCULLIS_CONDITIONS: Record<ConditionName, string> = {
  'same-tenant': 'principal.claims.tenant == request.headers["x-tenant-id"]',
  'managed-device': 'request.headers["x-device-posture"].startsWith("managed=true")',
  'has-read-scope': '"orders:read" in principal.scopes',
  suspended: 'has(principal.claims.suspended) && principal.claims.suspended == true',
};

/** Roles the generated rules use, all granted from the token's `roles` claim. */
export const TOKEN_ROLES = ['admin', 'auditor', 'customer', 'finance', 'support'];

const spiffeId = (c: { namespace: string; serviceAccount: string }): string =>
  `spiffe://cluster.local/ns/${c.namespace}/sa/${c.serviceAccount}`;

/** One Portcullis rule for a mesh rule: from = SPIFFE IDs, to = methods + path, roles, when = CEL. */
function portcullisRule(rule: RuleModel): Record<string, unknown> {
  const to: Record<string, unknown> = { paths: [rule.path.endsWith('/') ? `${rule.path}*` : rule.path] };
  if (rule.methods.length > 0) to.methods = [...rule.methods];
  return {
    id: rule.id,
    effect: rule.effect,
    ...(rule.callers.length > 0 ? { from: [{ principals: rule.callers.map(spiffeId) }] } : {}),
    to: [to],
    ...(rule.roles.length > 0 ? { roles: [...rule.roles] } : {}),
    ...(rule.conditions.length > 0
      ? { when: rule.conditions.map((c) => PORTCULLIS_CONDITIONS[c]).join(' && ') }
      : {}),
  };
}

/** Renders one service as a Portcullis policy selecting its host. */
export function portcullisPolicy(service: ServiceModel): Record<string, unknown> {
  return {
    apiVersion: 'portcullis.dev/v1',
    kind: 'Policy',
    metadata: { name: service.name, version: 1, owner: `team-${service.namespace}` },
    selector: { hosts: [service.host] },
    rules: service.rules.map(portcullisRule),
  };
}

/** The role-bindings document declaring the token roles the generated rules use. */
export function roleBindingsDoc(): Record<string, unknown> {
  return {
    apiVersion: 'portcullis.dev/v1',
    kind: 'RoleBindings',
    metadata: { name: 'bench-token-roles', description: 'Roles carried in the end-user token' },
    identityRoles: TOKEN_ROLES,
  };
}

/**
 * Writes a policy directory: optionally a copy of `examplesDir`, then one file per generated
 * service (100 policies per multi-document file would hide per-file costs; one each is realistic).
 */
export async function writePortcullisPolicies(
  services: readonly ServiceModel[],
  dir: string,
  examplesDir?: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (examplesDir !== undefined) await cp(examplesDir, join(dir, 'examples'), { recursive: true });
  const generated = join(dir, 'generated');
  await mkdir(generated, { recursive: true });
  await writeFile(join(generated, 'bench-token-roles.yaml'), stringify(roleBindingsDoc()));
  for (const service of services) {
    await writeFile(join(generated, `${service.name}.yaml`), stringify(portcullisPolicy(service)));
  }
}

/**
 * The sidecar config for the benchmark: peer certificates verified against the bench trust bundle,
 * tokens against the bench issuer's JWKS, decision log off (= Cerbos audit off).
 */
export function portcullisConfig(options: {
  issuer: string;
  audience: string;
  jwksFile: string;
  trustBundleFile: string;
}): Record<string, unknown> {
  return {
    identity: {
      spiffe: {
        verification: 'required',
        trustBundles: [{ trustDomain: 'cluster.local', file: options.trustBundleFile }],
      },
      jwt: {
        providers: [
          {
            issuer: options.issuer,
            jwks: { file: options.jwksFile },
            algorithms: ['ES256'],
            audiences: [options.audience],
          },
        ],
      },
    },
    telemetry: { log: { level: 'info' }, decisionLog: { enabled: false } },
  };
}
