import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverConfigSchema } from '../../../src/server/config.js';
import { ROOT } from './kube-tools.js';

// No Docker engine runs here (FACTS.md): check everything a build would rely on, statically.
const DIR = join(ROOT, 'deploy', 'docker');

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}
interface Stage {
  readonly from: string;
  readonly name: string;
  readonly body: Instruction[];
}

/** Parses a Dockerfile into instructions (continuations joined, comments dropped). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (buf === '' && (line === '' || line.startsWith('#'))) return;
    if (buf === '') start = i + 1;
    buf += line.endsWith('\\') ? `${line.slice(0, -1)} ` : line;
    if (line.endsWith('\\')) return;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buf);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  return out;
}

function stagesOf(instructions: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k, v] = ins.args.split('=');
      args.set(k!, v ?? '');
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      const from = (m?.[1] ?? '').replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? '');
      stages.push({ from, name: m?.[2] ?? String(stages.length), body: [] });
    } else {
      stages.at(-1)?.body.push(ins);
    }
  }
  return { args, stages };
}

const instructions = parseDockerfile(readFileSync(join(DIR, 'Dockerfile'), 'utf8'));
const { stages } = stagesOf(instructions);
const runtime = stages.at(-1)!;
const all = (stage: Stage, op: string) => stage.body.filter((i) => i.op === op);

describe('deploy/docker/Dockerfile', () => {
  it('is multi-stage on Node 20, with a slim or distroless runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages)
      expect(s.from, s.name).toMatch(
        /^(node:20-[a-z]+-slim|gcr\.io\/distroless\/nodejs20-debian\d+(:\w+)?)$/,
      );
    expect(runtime.from).toMatch(/distroless|slim/);
  });

  it('copies only from earlier stages, and from sources the build context keeps', () => {
    const ignore = readFileSync(join(DIR, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    stages.forEach((s, i) => {
      for (const copy of all(s, 'COPY')) {
        const words = copy.args.split(/\s+/).filter((w) => !w.startsWith('--chown'));
        const from = /^--from=(\S+)$/.exec(words[0] ?? '')?.[1];
        if (from) {
          expect(
            stages.slice(0, i).map((x) => x.name),
            `line ${copy.line}`,
          ).toContain(from);
          continue;
        }
        for (const src of words.slice(0, -1)) {
          expect(existsSync(join(ROOT, src)), `line ${copy.line}: ${src}`).toBe(true);
          expect(ignore, `Dockerfile.dockerignore keeps ${src}`).toContain(
            statSync(join(ROOT, src)).isDirectory() ? `!${src}/` : `!${src}`,
          );
        }
      }
    });
  });

  it('installs production dependencies with npm ci --omit=dev into the runtime image', () => {
    const deps = stages.find((s) => all(s, 'RUN').some((r) => /npm ci\b.*--omit=dev/.test(r.args)));
    expect(deps).toBeDefined();
    expect(
      all(runtime, 'COPY').some(
        (c) => c.args.includes(`--from=${deps!.name}`) && c.args.includes('node_modules'),
      ),
    ).toBe(true);
  });

  it('builds dist/ with the Makefile and runs dist/cli/main.js (what tsc emits for src/cli/main.ts)', () => {
    expect(stages.some((s) => all(s, 'RUN').some((r) => /\bmake build\b/.test(r.args)))).toBe(true);
    expect(readFileSync(join(ROOT, 'Makefile'), 'utf8')).toMatch(/^build:/m);
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect([tsconfig.compilerOptions.rootDir, tsconfig.compilerOptions.outDir]).toEqual(['src', 'dist']);
    expect(existsSync(join(ROOT, 'src', 'cli', 'main.ts'))).toBe(true);
    const [entry] = all(runtime, 'ENTRYPOINT');
    expect(JSON.parse(entry!.args)).toEqual(['/nodejs/bin/node', '/app/dist/cli/main.js']);
    expect(JSON.parse(all(runtime, 'CMD')[0]!.args)).toEqual(['serve']);
  });

  it('runs as a non-root user', () => {
    const users = all(runtime, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid ?? uid)).toBeGreaterThan(0);
    expect(instructions.findIndex((i) => i.op === 'USER')).toBeLessThan(
      instructions.findIndex((i) => i.op === 'ENTRYPOINT'),
    );
  });

  it('exposes exactly the server’s default listener ports and health-checks /healthz on the admin port', () => {
    const defaults = serverConfigSchema.parse({});
    const ports = Object.values(defaults).flatMap((v: unknown) =>
      typeof v === 'object' && v !== null && 'port' in v ? [Number(v.port)] : [],
    );
    const exposed = all(runtime, 'EXPOSE').flatMap((e) => e.args.split(/\s+/).map(Number));
    expect(exposed.sort()).toEqual(ports.sort());
    const [health] = all(runtime, 'HEALTHCHECK');
    expect(health?.args).toContain(`http://127.0.0.1:${defaults.admin.port}/healthz`);
    expect(health?.args).toMatch(/CMD \["\/nodejs\/bin\/node"/);
  });
});
