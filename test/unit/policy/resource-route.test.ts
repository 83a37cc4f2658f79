import { describe, expect, it } from 'vitest';
import { buildPolicyInput, compilePolicySet } from '../../../src/policy/index.js';

const head = 'apiVersion: portcullis.dev/v1\nkind: Policy\n';

function compile(text: string) {
  return compilePolicySet([{ path: 'routes.yaml', text: head + text }]);
}

describe('selector.resource (imperative routes)', () => {
  const set = (() => {
    const r = compile(`metadata: { name: routes }
selector:
  paths: ['/tenants/{tenant}/invoices/{id}', '/tenants/{tenant}/invoices/{id}/approve']
  resource: { kind: invoice, id: '{tenant}/{id}', resolver: invoices, actions: { POST: approve } }
rules: []
`);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.set;
  })();

  it.each([
    ['GET', '/tenants/acme/invoices/42', { kind: 'invoice', id: 'acme/42', action: 'read' }],
    ['HEAD', '/tenants/acme/invoices/42', { action: 'read' }],
    ['PUT', '/tenants/acme/invoices/42', { action: 'update' }],
    ['PATCH', '/tenants/acme/invoices/42', { action: 'update' }],
    ['DELETE', '/tenants/acme/invoices/42', { action: 'delete' }],
    ['POST', '/tenants/acme/invoices/42/approve', { action: 'approve' }],
    ['OPTIONS', '/tenants/acme/invoices/42', { action: 'options' }],
  ])('%s %s → %j', (method, path, expected) => {
    const route = set.resourceRoute?.(buildPolicyInput({ request: { method, path } }, 0));
    expect(route).toMatchObject({ ...expected, resolver: 'invoices', policy: 'routes@1' });
    expect(route?.params).toMatchObject({ tenant: 'acme', id: '42' });
  });

  it('no route for other paths, nor when the resource is already known (check API)', () => {
    expect(
      set.resourceRoute?.(buildPolicyInput({ request: { method: 'GET', path: '/other' } }, 0)),
    ).toBeUndefined();
    const withResource = buildPolicyInput(
      {
        request: { method: 'GET', path: '/tenants/a/invoices/1' },
        resource: { kind: 'invoice', id: '1', attributes: {} },
      },
      0,
    );
    expect(set.resourceRoute?.(withResource)).toBeUndefined();
  });

  it('a route-only policy compiles without the "no rules" warning', () => {
    const r = compile(
      "metadata: { name: r }\nselector: { paths: ['/x/{id}'], resource: { kind: thing } }\nrules: []\n",
    );
    expect(r.ok && r.warnings).toEqual([]);
  });

  it.each([
    ["selector: { paths: ['/x/{name}'], resource: { kind: thing } }", /does not capture \{id\}/],
    ['selector: { resource: { kind: thing } }', /no paths/],
    [
      "selector: { paths: ['/x/{id}'], resource: { kind: thing, actions: { get: read } } }",
      /Invalid key in record/,
    ],
  ])('compile error: %s', (selector, message) => {
    const r = compile(`metadata: { name: r }\n${selector}\nrules: []\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.message).join('\n')).toMatch(message);
  });
});
