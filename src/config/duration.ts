import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses a duration such as `200ms`, `1.5s`, `5m`, `1h` (or a number of milliseconds) into milliseconds. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number));
}

/** A zod schema for a duration (`"10s"`, `"250ms"` or milliseconds) whose output is milliseconds. */
export function duration(defaultValue: string, description: string) {
  return z
    .union([z.number(), z.string()])
    .default(defaultValue)
    .transform((v, ctx) => {
      const ms = parseDurationMs(v);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `invalid duration ${JSON.stringify(v)}: use e.g. 250ms, 10s, 5m or milliseconds`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .describe(`${description} Duration: e.g. 250ms, 10s, 5m (or milliseconds).`);
}

/** A TCP port number (0 = any free port). */
export function port(defaultValue: number, description: string) {
  return z.number().int().min(0).max(65535).default(defaultValue).describe(description);
}
