/**
 * Re-renders bench/results.md (and the ratios and notes in bench/results.json) from the measured
 * figures in bench/results.json, without measuring again: `npx tsx bench/render.ts`. For when the
 * report's wording or derived figures change; the measurements themselves are left as they were.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchResults } from './lib/report.js';
import { renderMarkdown } from './lib/report.js';
import { buildNotes, computeRatios } from './lib/verdict.js';

const BENCH = new URL('.', import.meta.url).pathname;
const saved = JSON.parse(await readFile(join(BENCH, 'results.json'), 'utf8')) as BenchResults;
const ratios = computeRatios(saved.targets, saved.scaling);
const cerbosRan = saved.targets.some((t) => t.key === 'cerbos');
const results: BenchResults = {
  ...saved,
  ratios,
  notes: buildNotes(saved.targets, saved.scaling, ratios, cerbosRan),
};
const rates = [...new Set(saved.targets.flatMap((t) => t.rates.map((r) => r.rps)))].sort((a, b) => a - b);
const extra = await readFile(join(BENCH, 'results-extra.md'), 'utf8').catch(() => '');
await writeFile(join(BENCH, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(BENCH, 'results.md'), `${renderMarkdown(results, rates)}${extra ? `\n${extra}` : ''}`);
process.stdout.write(`${results.notes.map((n) => `- ${n}`).join('\n')}\n`);
