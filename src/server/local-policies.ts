import { type FSWatcher, watch } from 'node:fs';
import type { Logger } from 'pino';
import { PortcullisError } from '../errors.js';
import { type CompileOptions, compilePolicySet, loadPolicySources, type Problem } from '../policy/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { PolicyStore } from './policy-store.js';

/** Formats compile problems as `file:line:col path: message` lines. */
export function formatProblems(problems: readonly Problem[]): string[] {
  return problems.map((p) => {
    const where = `${p.file}:${p.line}:${p.column}`;
    const rule = p.ruleId ? ` rule ${p.ruleId}` : '';
    const path = p.path ? ` ${p.path}` : '';
    return `${where}${rule}${path}: ${p.message}`;
  });
}

/** Compiles a policy directory and activates it; throws `policy_invalid` listing every problem. */
export async function loadLocalPolicies(
  dir: string,
  store: PolicyStore,
  metrics: Metrics,
  options: CompileOptions = {},
): Promise<void> {
  let result: ReturnType<typeof compilePolicySet>;
  try {
    result = compilePolicySet(await loadPolicySources(dir), options);
  } catch (e) {
    metrics.bundleLoadFailures.inc({ reason: 'policy_io_error' });
    throw e;
  }
  if (!result.ok) {
    metrics.bundleLoadFailures.inc({ reason: 'policy_invalid' });
    const details = formatProblems(result.problems);
    throw new PortcullisError(
      'policy_invalid',
      `policies in ${dir} do not compile:\n  ${details.join('\n  ')}`,
      { details },
    );
  }
  const now = Date.now();
  const revision = `local-${result.set.digest.slice(0, 12)}`;
  store.activate({ set: result.set, revision, source: dir, createdAtMs: now, activatedAtMs: now });
  metrics.bundleInfo.reset();
  metrics.bundleInfo.set({ revision, source: 'local' }, 1);
  metrics.bundleLastSuccess.set(now / 1000);
  metrics.bundleCreated.set(now / 1000);
}

/**
 * Reloads the directory when a file in it changes (debounced). A change that does not compile is
 * logged and counted; the previous policy set keeps serving.
 */
export function watchLocalPolicies(
  dir: string,
  store: PolicyStore,
  deps: { logger: Logger; metrics: Metrics },
  options: CompileOptions = {},
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const reload = () => {
    loadLocalPolicies(dir, store, deps.metrics, options).then(
      () => deps.logger.info({ revision: store.current()?.revision, dir }, 'policies reloaded'),
      (e: unknown) =>
        deps.logger.error(
          { err: { code: (e as PortcullisError).code, details: (e as PortcullisError).details }, dir },
          'policy reload rejected; the previous policy set keeps serving',
        ),
    );
  };
  try {
    watcher = watch(dir, { recursive: true }, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(reload, 200);
    });
    watcher.on('error', (e) => deps.logger.warn({ err: e.message, dir }, 'policy directory watch failed'));
  } catch (e) {
    deps.logger.warn(
      { err: (e as Error).message, dir },
      'cannot watch the policy directory; reload disabled',
    );
  }
  return () => {
    if (timer) clearTimeout(timer);
    watcher?.close();
  };
}
