/** The control plane's break-glass directory: `*.jws` exception tokens shipped in every bundle. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BreakGlassGrant, decodeBreakGlass } from '../rollout/index.js';
import { sha256Hex } from './manifest.js';
import { ANY_SERVICE } from './services.js';

/** One exception file. */
export interface BreakGlassFile {
  readonly name: string;
  readonly token: string;
  readonly grant: BreakGlassGrant;
}

/** Reads every `*.jws` file of `dir` (a missing dir is empty); unreadable or malformed ones are problems. */
export async function readBreakGlassDir(
  dir: string,
): Promise<{ files: BreakGlassFile[]; problems: string[] }> {
  const files: BreakGlassFile[] = [];
  const problems: string[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^[A-Za-z0-9._-]{1,128}\.jws$/.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { files, problems };
    return { files, problems: [`${dir}: ${(e as Error).message}`] };
  }
  for (const name of names) {
    try {
      const token = (await readFile(join(dir, name), 'utf8')).trim();
      const d = decodeBreakGlass(token);
      if (d.ok) files.push({ name, token, grant: d.grant });
      else problems.push(`${name}: ${d.detail}`);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  return { files, problems };
}

/**
 * The unexpired exceptions for one service (those naming no service go everywhere), a digest of
 * them, and when the next one expires (ms since epoch; Infinity when none).
 */
export function breakGlassFor(
  files: readonly BreakGlassFile[],
  service: string,
  nowMs: number,
): { tokens: { name: string; token: string }[]; digest: string; nextExpiryMs: number } {
  const live = files.filter(
    (f) =>
      f.grant.untilMs > nowMs &&
      (f.grant.service === undefined || service === ANY_SERVICE || f.grant.service === service),
  );
  return {
    tokens: live.map((f) => ({ name: f.name, token: f.token })),
    digest: live.length === 0 ? '' : sha256Hex(live.map((f) => `${f.name}\u0000${f.token}`).join('\n')),
    nextExpiryMs: Math.min(...live.map((f) => f.grant.untilMs)),
  };
}
