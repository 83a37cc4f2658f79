/**
 * A neutral description of a service mesh's authorization rules, rendered both as Portcullis
 * policies and as equivalent Cerbos resource policies (see bench/README.md for the mapping).
 */

/** A calling workload, as its SPIFFE ID `spiffe://cluster.local/ns/<namespace>/sa/<serviceAccount>`. */
export interface Caller {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Run-time conditions with one meaning in both engines. */
export type ConditionName = 'same-tenant' | 'managed-device' | 'has-read-scope' | 'suspended';

/** One rule of a service's policy. */
export interface RuleModel {
  readonly id: string;
  readonly effect: 'ALLOW' | 'DENY';
  /** HTTP methods (= Cerbos actions); empty means any. */
  readonly methods: readonly string[];
  /** Path prefix ending in '/', or an exact path. */
  readonly path: string;
  /** Allowed callers; empty means any workload. */
  readonly callers: readonly Caller[];
  /** End-user roles (from the token), any of which suffices; empty means no role required. */
  readonly roles: readonly string[];
  /** Conditions that must all hold. */
  readonly conditions: readonly ConditionName[];
}

/** One destination service and its rules. */
export interface ServiceModel {
  /** Policy name = Cerbos resource kind. */
  readonly name: string;
  readonly namespace: string;
  /** `:authority` the policy selects. */
  readonly host: string;
  readonly rules: readonly RuleModel[];
}

const NAMESPACES = ['shop', 'payments', 'identity', 'catalog', 'fulfilment', 'support', 'analytics', 'media'];
const ROLES = ['customer', 'support', 'admin', 'finance', 'auditor'];

/** Deterministic PRNG (mulberry32) so every run generates the same set. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0)
    out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

/** The service `index` of a generated mesh: health open, reads by role, writes by tenant, admin denied. */
function generatedService(index: number, random: () => number): ServiceModel {
  const name = `svc-${String(index).padStart(5, '0')}`;
  const namespace = NAMESPACES[index % NAMESPACES.length]!;
  const callerCount = 1 + Math.floor(random() * 3);
  const callers = Array.from({ length: callerCount }, (_, i) => ({
    namespace: NAMESPACES[(index + i) % NAMESPACES.length]!,
    serviceAccount: i === 0 ? 'frontend' : `svc-${String((index + i * 7) % 997).padStart(5, '0')}`,
  }));
  const api = `/api/${name}/`;
  return {
    name,
    namespace,
    host: `${name}.${namespace}.svc.cluster.local`,
    rules: [
      {
        id: 'health',
        effect: 'ALLOW',
        methods: ['GET'],
        path: '/healthz',
        callers: [],
        roles: [],
        conditions: [],
      },
      {
        id: 'read',
        effect: 'ALLOW',
        methods: ['GET', 'HEAD'],
        path: api,
        callers,
        roles: pick(random, ROLES, 2),
        conditions: ['has-read-scope'],
      },
      {
        id: 'write',
        effect: 'ALLOW',
        methods: ['POST', 'PUT', 'PATCH'],
        path: api,
        callers: callers.slice(0, 1),
        roles: ['customer'],
        conditions: ['same-tenant', 'managed-device'],
      },
      {
        id: 'no-suspended',
        effect: 'DENY',
        methods: [],
        path: api,
        callers: [],
        roles: [],
        conditions: ['suspended'],
      },
    ],
  };
}

/** The policy the benchmark request hits: frontend reads a tenant's order for a customer. */
export const REQUEST_SERVICE: ServiceModel = {
  name: 'bench-orders',
  namespace: 'shop',
  host: 'orders.shop.svc.cluster.local',
  rules: [
    {
      id: 'customer-reads-own-tenant',
      effect: 'ALLOW',
      methods: ['GET'],
      path: '/api/orders/',
      callers: [{ namespace: 'shop', serviceAccount: 'frontend' }],
      roles: ['customer', 'support'],
      conditions: ['same-tenant', 'has-read-scope', 'managed-device'],
    },
    {
      id: 'no-suspended',
      effect: 'DENY',
      methods: [],
      path: '/api/orders/',
      callers: [],
      roles: [],
      conditions: ['suspended'],
    },
  ],
};

/** A mesh of `count` services: the request's service plus `count - 1` generated ones (seeded). */
export function generateMesh(count: number, seed = 20_240_601): ServiceModel[] {
  const random = prng(seed);
  const services = [REQUEST_SERVICE];
  for (let i = 1; i < count; i += 1) services.push(generatedService(i, random));
  return services;
}
