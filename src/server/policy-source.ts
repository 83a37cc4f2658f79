import type { Logger } from 'pino';
import type { BundleConfig, BundlePuller } from '../bundle/index.js';
import type { PolicyConfig } from '../policy/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import { loadLocalPolicies, watchLocalPolicies } from './local-policies.js';
import type { PolicyStore } from './policy-store.js';

/** Where the active policy set comes from: signed bundles (bundle.url) or a local directory. */
export interface PolicySource {
  /** Local: compile and activate (throws on invalid policies). Bundles: restore the last known good, then poll. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Detail for /readyz. */
  status(): Record<string, unknown>;
}

/** Creates the policy source the config asks for. */
export function createPolicySource(
  policy: PolicyConfig,
  bundle: BundleConfig,
  store: PolicyStore,
  deps: { logger: Logger; metrics: Metrics },
): PolicySource {
  if (bundle.url !== undefined) {
    // Loaded only in bundle mode: the bundle subsystem's code costs heap in directory mode too.
    let puller: BundlePuller | undefined;
    return {
      async start() {
        const { createBundlePuller } = await import('../bundle/puller.js');
        puller = createBundlePuller(bundle, {
          logger: deps.logger,
          metrics: deps.metrics,
          activate: (b) => store.activate(b),
          current: () => store.current(),
        });
        await puller.start();
      },
      stop: async () => puller?.stop(),
      status: () => ({ mode: 'bundle', bundle: puller?.status() ?? null }),
    };
  }
  const options = { failOnWarnings: policy.failOnWarnings, shadow: policy.shadow };
  let stopWatch = () => {};
  return {
    async start() {
      await loadLocalPolicies(policy.dir, store, deps.metrics, options);
      if (policy.watch) stopWatch = watchLocalPolicies(policy.dir, store, deps, options);
    },
    async stop() {
      stopWatch();
    },
    status: () => ({ mode: 'directory', dir: policy.dir }),
  };
}
