/**
 * Output capture for the suite-wide secret scan (test/global/secret-capture.ts): what sidecars
 * print, the metrics they expose, and every deny body and error message clients receive are
 * appended to files in `SECRET_SCAN_CAPTURE_DIR`. Without that variable every call is a no-op.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = process.env.SECRET_SCAN_CAPTURE_DIR;
const buffered: string[] = [];
let bufferedBytes = 0;

/** Writes what this worker captured so far (after each test file, see flush-capture.ts). */
export function flushCapture(): void {
  if (DIR === undefined || buffered.length === 0) return;
  appendFileSync(join(DIR, `output-${process.pid}.log`), buffered.join(''));
  buffered.length = 0;
  bufferedBytes = 0;
}
if (DIR !== undefined) process.on('exit', flushCapture);

/** Records one piece of output (a log line, a metrics page, a deny body) from `source`. */
export function capture(source: string, text: string): void {
  if (DIR === undefined) return;
  // One record per line, tagged with its source (for the report).
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const record = `${source}\t${line}\n`;
    buffered.push(record);
    bufferedBytes += record.length;
  }
  if (bufferedBytes > 1 << 20) flushCapture();
}

/** Registers secrets a test generated at run time (tokens, keys): none may appear in any output. */
export function registerSecrets(...secrets: readonly string[]): void {
  if (DIR === undefined) return;
  const lines = secrets.filter((s) => s.length >= 12).map((s) => `${s}\n`);
  if (lines.length > 0) appendFileSync(join(DIR, `secrets-${process.pid}.txt`), lines.join(''));
}

/** Records the metrics page of an admin server (labels must never carry secrets). */
export async function captureMetrics(source: string, adminPort: number | undefined): Promise<void> {
  if (DIR === undefined || adminPort === undefined) return;
  try {
    capture(`${source}:metrics`, await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text());
  } catch {
    // The server is already gone: nothing to record.
  }
}
