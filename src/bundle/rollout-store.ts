/**
 * Persists the staged control plane's stable (and previous) sources per service, so a restart
 * keeps enforcing what was promoted instead of publishing the directory's pending change to every
 * sidecar. A canary is not persisted: after a restart it has ended (the change is pending again).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { PolicySource } from '../policy/index.js';
import type { ServiceRollout, Track } from './rollout-state.js';
import { sourcesDigest } from './services.js';

/** The state file inside the state directory. */
export const ROLLOUT_STATE_FILE = 'rollout-state.json';

const sourcesSchema = z.array(z.object({ path: z.string(), text: z.string() }).strict());
const stateSchema = z
  .object({
    version: z.literal(1),
    services: z.record(
      z.string(),
      z.object({ stable: sourcesSchema, previous: sourcesSchema.optional() }).strict(),
    ),
  })
  .strict();

const track = (sources: readonly PolicySource[]): Track => ({ sources, digest: sourcesDigest(sources) });

/** Reads the persisted state (empty when there is none); a corrupt file is an error, not a silent reset. */
export async function readRolloutState(dir: string): Promise<Map<string, ServiceRollout>> {
  let text: string;
  try {
    text = await readFile(join(dir, ROLLOUT_STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${join(dir, ROLLOUT_STATE_FILE)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const out = new Map<string, ServiceRollout>();
  for (const [service, s] of Object.entries(parsed.data.services))
    out.set(service, { stable: track(s.stable), ...(s.previous ? { previous: track(s.previous) } : {}) });
  return out;
}

/** Writes the state atomically (temp file + rename). */
export async function writeRolloutState(
  dir: string,
  state: ReadonlyMap<string, ServiceRollout>,
): Promise<void> {
  const services: Record<string, { stable: readonly PolicySource[]; previous?: readonly PolicySource[] }> =
    {};
  for (const [service, s] of state)
    services[service] = { stable: s.stable.sources, ...(s.previous ? { previous: s.previous.sources } : {}) };
  await mkdir(dir, { recursive: true });
  const file = join(dir, ROLLOUT_STATE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify({ version: 1, services }));
  await rename(`${file}.tmp`, file);
}
