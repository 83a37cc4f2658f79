/**
 * vitest globalSetup: gives every test worker a capture directory (test/global/capture.ts), and
 * after the whole suite scans everything captured — sidecar log lines, metrics pages, deny bodies,
 * gRPC/HTTP error messages — for secrets: registered test tokens and keys, and anything shaped like
 * a signed JWT, a private key (PEM or JWK `d`), or a Basic/Bearer credential. A finding fails the run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Shapes no output may contain, whatever test produced them. */
export const SECRET_SHAPES: readonly [string, RegExp][] = [
  ['a signed JWT', /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/],
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a private JWK member', /"d"\s*:\s*"[A-Za-z0-9_-]{20,}"/],
  ['a Basic credential', /\bBasic [A-Za-z0-9+/]{12,}={0,2}/],
  ['a Bearer credential', /\bBearer [A-Za-z0-9._~+/-]{20,}/],
];

/** Every leak in `records` (lines `source\ttext`): what leaked, where, and a cut excerpt. */
export function findLeaks(records: readonly string[], secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  for (const record of records) {
    const tab = record.indexOf('\t');
    const source = record.slice(0, tab);
    const text = record.slice(tab + 1);
    for (const [what, re] of SECRET_SHAPES) {
      const m = re.exec(text);
      if (m) leaks.push(`${source}: ${what} (${m[0].slice(0, 16)}…)`);
    }
    for (const s of secrets)
      if (text.includes(s)) leaks.push(`${source}: a registered secret (${s.slice(0, 10)}…)`);
  }
  return leaks;
}

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-capture-'));
  process.env.SECRET_SCAN_CAPTURE_DIR = dir;
  return () => {
    const files = readdirSync(dir);
    const read = (prefix: string) =>
      files
        .filter((f) => f.startsWith(prefix))
        .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'));
    const records = read('output-').filter((l) => l !== '');
    const secrets = [...new Set(read('secrets-').filter((l) => l !== ''))];
    const leaks = findLeaks(records, secrets);
    rmSync(dir, { recursive: true, force: true });
    const sources = new Set(records.map((r) => r.slice(0, r.indexOf('\t')).replace(/:.*/, ''))).size;
    console.log(
      `secret hygiene: ${records.length} captured lines (${sources} kinds of source), ${secrets.length} registered secrets, ${leaks.length} leaks`,
    );
    if (leaks.length > 0) {
      console.error(
        `secret hygiene: secrets in test output:\n  ${[...new Set(leaks)].slice(0, 50).join('\n  ')}`,
      );
      // A throw here is only printed by vitest; the exit code is what fails the build.
      process.exitCode = 1;
    }
  };
}
