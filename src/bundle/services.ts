import type { PolicySource } from '../policy/index.js';
import { sha256Hex } from './manifest.js';

/** The service name used when a policy directory has no per-service subdirectories. */
export const DEFAULT_SERVICE = 'default';

/** The key of a service-agnostic bundle (single layout): served for every service name. */
export const ANY_SERVICE = '*';

/** A valid service name (also a path segment of the bundle URL). */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Splits a control-plane policy directory into per-service source sets:
 * - `DIR/<service>/**` belongs to that service only;
 * - files directly in `DIR`, in `DIR/data/` (data documents) and in top-level directories starting
 *   with `_` (e.g. `DIR/_shared/`) are shared: they go into every service's bundle;
 * - with no service directory at all, everything is one bundle for the service `default`.
 * Paths keep their directory prefix, so a bundle's files mirror the repository layout.
 */
export function partitionByService(sources: readonly PolicySource[]): Map<string, PolicySource[]> {
  const shared: PolicySource[] = [];
  const own = new Map<string, PolicySource[]>();
  for (const src of sources) {
    const slash = src.path.indexOf('/');
    const top = slash < 0 ? '' : src.path.slice(0, slash);
    if (top === '' || top === 'data' || top.startsWith('_') || !SERVICE_NAME.test(top)) shared.push(src);
    else own.set(top, [...(own.get(top) ?? []), src]);
  }
  if (own.size === 0) return new Map([[DEFAULT_SERVICE, shared]]);
  const out = new Map<string, PolicySource[]>();
  for (const [service, list] of [...own.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
    out.set(service, [...shared, ...list]);
  return out;
}

/** SHA-256 over a source set (order-independent): equal digests mean an identical bundle content. */
export function sourcesDigest(sources: readonly PolicySource[]): string {
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sha256Hex(sorted.map((s) => `${s.path}\u0000${sha256Hex(s.text)}`).join('\n'));
}
