/**
 * Run by memory.test.ts as `node --expose-gc --import tsx heap-probe.ts N [unique]`: compiles N
 * generated policies (like bench/lib/mesh-model.ts: a host, callers, four rules with CEL
 * conditions; with `unique`, each policy's conditions differ from every other's) and prints the
 * heap the compiled set retains, after the sources are gone, as JSON.
 */
import { stringify } from 'yaml';
import { compilePolicySet } from '../../../src/policy/index.js';
import type { CompiledPolicySet, PolicySource } from '../../../src/policy/types.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const unique = process.argv[3] === 'unique';

function source(i: number): PolicySource {
  const tag = unique ? `-${i}` : '';
  const name = `svc-${String(i).padStart(5, '0')}`;
  const api = `/api/${name}/*`;
  const doc = {
    apiVersion: 'portcullis.dev/v1',
    kind: 'Policy',
    metadata: { name, version: 1, owner: `team-${i % 8}` },
    selector: { hosts: [`${name}.ns-${i % 8}.svc.cluster.local`] },
    rules: [
      { id: 'health', effect: 'ALLOW', to: [{ paths: ['/healthz'], methods: ['GET'] }] },
      {
        id: 'read',
        effect: 'ALLOW',
        from: [
          {
            principals: [
              `spiffe://cluster.local/ns/ns-${i % 8}/sa/frontend`,
              `spiffe://cluster.local/ns/x/sa/c${i}`,
            ],
          },
        ],
        to: [{ paths: [api], methods: ['GET', 'HEAD'] }],
        roles: ['auditor', 'finance'],
        when: `"orders:read${tag}" in principal.scopes`,
      },
      {
        id: 'write',
        effect: 'ALLOW',
        from: [{ principals: [`spiffe://cluster.local/ns/ns-${i % 8}/sa/frontend`] }],
        to: [{ paths: [api], methods: ['POST', 'PUT', 'PATCH'] }],
        roles: ['customer'],
        when: `principal.claims.tenant == request.headers["x-tenant-id${tag}"]`,
      },
      {
        id: 'no-suspended',
        effect: 'DENY',
        to: [{ paths: [api] }],
        when: `has(principal.claims.suspended${tag.replace('-', '_')}) && principal.claims.suspended == true`,
      },
    ],
  };
  return { path: `generated/${name}.yaml`, text: stringify(doc) };
}

const ROLES: PolicySource = {
  path: 'roles.yaml',
  text: stringify({
    apiVersion: 'portcullis.dev/v1',
    kind: 'RoleBindings',
    metadata: { name: 'token-roles' },
    identityRoles: ['auditor', 'customer', 'finance'],
  }),
};

function compileGenerated(n: number): CompiledPolicySet {
  const r = compilePolicySet([ROLES, ...Array.from({ length: n }, (_, i) => source(i))]);
  if (!r.ok) throw new Error(JSON.stringify(r.problems.slice(0, 3)));
  return r.set;
}

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const n = Number(process.argv[2] ?? 500);
compileGenerated(20); // warm up the modules and caches every compile shares
const before = heap();
const set = compileGenerated(n);
const after = heap();
process.stdout.write(
  `${JSON.stringify({ policies: set.policyCount, bytesPerPolicy: (after - before) / n })}\n`,
);
