import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DOCS } from '../../../src/cli/docs-generate.js';
import { envVarName, renderConfigDoc } from '../../../src/config/docs.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('generated documents do not drift from the schema', () => {
  it.each(Object.keys(GENERATED_DOCS).map((f) => [f]))(
    '%s is up to date (run `make docs` to regenerate)',
    (file) => {
      const committed = readFileSync(join(ROOT, file), 'utf8');
      expect(committed).toBe(GENERATED_DOCS[file]!());
    },
  );

  it('docs/config.md documents every section with its environment variable', () => {
    const doc = renderConfigDoc();
    for (const key of [
      'server.grpc.port',
      'policy.dir',
      'identity.jwt.required',
      'decision.stripHeaders',
      'telemetry.log.level',
    ]) {
      expect(doc).toContain(`\`${key}\``);
      expect(doc).toContain(envVarName(key.split('.')));
    }
  });

  it.each([
    [['server', 'grpc', 'port'], 'PORTCULLIS_SERVER__GRPC__PORT'],
    [['server', 'maxInFlight'], 'PORTCULLIS_SERVER__MAX_IN_FLIGHT'],
    [['telemetry', 'decisionLog', 'sampleAllows'], 'PORTCULLIS_TELEMETRY__DECISION_LOG__SAMPLE_ALLOWS'],
  ])('env var of %j is %s', (path, name) => {
    expect(envVarName(path)).toBe(name);
  });
});
