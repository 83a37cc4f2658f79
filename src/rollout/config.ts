/** Options of a replay (`portcullis replay`), validated once; defaults live here. */
import { z } from 'zod';

/** The replay options schema. */
export const replayOptionsSchema = z
  .object({
    sinceMs: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Only decisions made at or after this time (ms since epoch) are replayed; unset = all.'),
    maxChanges: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Changed decisions allowed; the report is over the threshold beyond it (unset = no gate).'),
    top: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(10)
      .describe('Changed examples shown, largest groups first.'),
    maxKeys: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('Distinct rules / routes counted; more are folded into "(other)" (bounded memory).'),
    maxLineBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Longer log lines (in characters) are skipped as invalid instead of being buffered.'),
  })
  .strict()
  .describe('Replay of a decision log against a candidate policy set.');

/** Replay options after parsing. */
export type ReplayOptions = z.output<typeof replayOptionsSchema>;
