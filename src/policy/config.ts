/** Configuration of the policy component. */
import { z } from 'zod';

/** Policy config: where policies live and how the set is compiled. */
export const policyConfigSchema = z
  .object({
    dir: z.string().min(1).default('policies').describe('Directory of policy, data and *_test.yaml files'),
    watch: z
      .boolean()
      .default(true)
      .describe(
        'Reload the policy directory when a file in it changes (a change that does not compile is refused; the previous set keeps serving)',
      ),
    failOnWarnings: z.boolean().default(false).describe('Refuse a policy set that compiles with warnings'),
    shadow: z
      .boolean()
      .default(true)
      .describe(
        'Evaluate AUDIT rules and shadow-mode policies (recorded in Decision.shadow); false skips them',
      ),
  })
  .strict()
  .describe('Policy engine');

/** Parsed policy config. */
export type PolicyConfig = z.output<typeof policyConfigSchema>;

/** Compile options (the compile-relevant part of the config). */
export type CompileOptions = Partial<Pick<PolicyConfig, 'failOnWarnings' | 'shadow'>>;
