/** Shared helpers of the rollout tests: two small policy sets and decision-log lines made by the real line builder. */
import { Readable } from 'node:stream';
import {
  buildAuthzInput,
  buildPrincipal,
  type CompiledPolicySet,
  compilePolicySet,
  type PolicySource,
  type PrincipalFixture,
  type RequestFixture,
} from '../../../src/policy/index.js';
import { telemetryConfigSchema } from '../../../src/telemetry/config.js';
import { type DecisionRecord, lineOptions } from '../../../src/telemetry/decision-input.js';
import { buildDecisionLine } from '../../../src/telemetry/decision-line.js';
import type { Decision } from '../../../src/types.js';

/** The enforced policies: the frontend reads orders, checkout writes them, admins do anything on admin. */
export const ENFORCED: Record<string, string> = {
  'orders.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: orders }
selector: { hosts: [orders] }
rules:
  - id: frontend-read
    effect: ALLOW
    from: [{ principals: [spiffe://cluster.local/ns/shop/sa/frontend] }]
    to: [{ methods: [GET], paths: ["/orders/{id}", /orders] }]
  - id: checkout-write
    effect: ALLOW
    from: [{ principals: [spiffe://cluster.local/ns/shop/sa/checkout] }]
    to: [{ methods: [POST, PUT, DELETE], paths: ["/orders/{id}", /orders] }]
`,
  'admin.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: admin }
selector: { hosts: [admin] }
rules:
  - id: staff
    effect: ALLOW
    when: "'staff' in principal.groups"
`,
};

/** The candidate: checkout may no longer DELETE; support may read admin pages. */
export const CANDIDATE: Record<string, string> = {
  'orders.yaml': (ENFORCED['orders.yaml'] as string).replace('[POST, PUT, DELETE]', '[POST, PUT]'),
  'admin.yaml': `${ENFORCED['admin.yaml']}  - id: support-read
    effect: ALLOW
    to: [{ methods: [GET] }]
    when: "'support' in principal.groups"
`,
};

/** Policy sources from a file map. */
export function sources(files: Record<string, string>): PolicySource[] {
  return Object.entries(files).map(([path, text]) => ({ path, text }));
}

/** Compiles a file map (throws with the problems when it does not compile). */
export function compile(files: Record<string, string>): CompiledPolicySet {
  const r = compilePolicySet(sources(files));
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.set;
}

export const FRONTEND: PrincipalFixture = {
  source: { principal: 'spiffe://cluster.local/ns/shop/sa/frontend', verified: true },
};
export const CHECKOUT: PrincipalFixture = {
  source: { principal: 'spiffe://cluster.local/ns/shop/sa/checkout', verified: true },
};
export const STAFF: PrincipalFixture = { id: 'u-staff', issuer: 'https://id.example.com', groups: ['staff'] };
export const SUPPORT: PrincipalFixture = {
  id: 'u-support',
  issuer: 'https://id.example.com',
  groups: ['support'],
};

/** One decision: the request, who asked (null = identification failed) and when. */
export interface Traffic {
  readonly request: RequestFixture;
  readonly principal: PrincipalFixture | null;
  readonly timeMs?: number;
  /** Replace the enforced decision (e.g. a break-glass allow). */
  readonly decision?: Partial<Decision>;
}

const OPTIONS = lineOptions(telemetryConfigSchema.parse({}).decisionLog);

/** The decision-log line the sidecar writes for this traffic when `set` is enforced (pino shape). */
export function logLine(set: CompiledPolicySet, t: Traffic, n = 0): string {
  const timeMs = t.timeMs ?? 1_750_000_000_000 + n;
  const fixture = t.principal ?? {};
  const input = buildAuthzInput(t.request, fixture);
  const principal = t.principal === null ? undefined : buildPrincipal(t.principal);
  const evaluated = principal
    ? set.evaluate({ request: input, principal, now: timeMs })
    : set.evaluate({ request: input, principal: buildPrincipal({}), now: timeMs });
  const decision: Decision = principal
    ? { ...evaluated, ...t.decision }
    : { ...evaluated, allowed: false, status: 401, reason: 'token_invalid', ruleIds: [], policy: '' };
  const record: DecisionRecord = {
    decisionId: `d-${n}`,
    api: 'grpc',
    input,
    principal,
    decision,
    bundleRevision: '7',
    latencyMicros: 100,
    timeMs,
  };
  return JSON.stringify({ level: 'info', ...buildDecisionLine(record, OPTIONS, 1), msg: 'decision' });
}

/** A stream of the given text in chunks of `size` bytes (to cut lines and characters anywhere). */
export function chunked(text: string, size: number): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

/** Standard traffic: 2 frontend reads, 2 checkout deletes, 1 staff + 1 support admin read, 1 anonymous. */
export const TRAFFIC: readonly Traffic[] = [
  { request: { method: 'GET', host: 'orders', path: '/orders/1' }, principal: FRONTEND },
  { request: { method: 'GET', host: 'orders', path: '/orders/2' }, principal: FRONTEND },
  { request: { method: 'DELETE', host: 'orders', path: '/orders/3' }, principal: CHECKOUT },
  { request: { method: 'DELETE', host: 'orders', path: '/orders/4' }, principal: CHECKOUT },
  { request: { method: 'GET', host: 'admin', path: '/panel' }, principal: STAFF },
  { request: { method: 'GET', host: 'admin', path: '/panel' }, principal: SUPPORT },
  { request: { method: 'GET', host: 'admin', path: '/panel' }, principal: {} },
];
