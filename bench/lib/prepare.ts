import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildCerbosRequest, findCerbosBinary } from './cerbos.js';
import { writeCerbosPolicies } from './cerbos-policies.js';
import { generateMesh, REQUEST_SERVICE } from './mesh-model.js';
import type { BenchOptions } from './options.js';
import { portcullisConfig, writePortcullisPolicies } from './portcullis-policies.js';
import { buildCheckRequest, DEFAULT_REQUEST, encodeCheckRequest, requestHeaders } from './request.js';
import type { BenchContext } from './stages.js';
import { createBenchIssuer, createBenchPki, writeJwks } from './token.js';

const ISSUER = 'https://id.shop.example.com/';
const AUDIENCE = 'shop-api';
const SUBJECT = 'user-7f3a';

/** What `prepare` built: the shared context plus the policy directories of each stage. */
export interface Prepared {
  readonly ctx: BenchContext;
  readonly dirs: { readonly examples: string; readonly realistic: string; readonly cerbos: string };
  /** Number of services in the realistic set (= Cerbos resource policies). */
  readonly services: number;
  /** Number of headers in the benchmark request. */
  readonly headers: number;
}

/** Scratch space, git-ignored; its biome.json keeps generated files out of `make lint`. */
async function prepareWork(work: string): Promise<void> {
  await mkdir(work, { recursive: true });
  const off = { enabled: false };
  const biome = { root: false, extends: '//', formatter: off, linter: off, assist: off };
  await writeFile(join(work, 'biome.json'), `${JSON.stringify(biome)}\n`);
}

/** The same token with its signature's first character changed (a forgery that parses). */
function forge(token: string): string {
  const dot = token.lastIndexOf('.');
  const first = token[dot + 1] === 'A' ? 'B' : 'A';
  return `${token.slice(0, dot + 1)}${first}${token.slice(dot + 2)}`;
}

/** Builds the token, both request bodies, the policy sets and the sidecar config under `work`. */
export async function prepare(root: string, work: string, options: BenchOptions): Promise<Prepared> {
  await prepareWork(work);
  const issuer = await createBenchIssuer(ISSUER, AUDIENCE);
  const jwksFile = join(work, 'jwks.json');
  await writeJwks(issuer, jwksFile);
  const pki = createBenchPki('cluster.local', DEFAULT_REQUEST.sourcePrincipal);
  const trustBundleFile = join(work, 'trust-bundle.pem');
  await writeFile(trustBundleFile, pki.caPem);
  const token = await issuer.sign(SUBJECT, 3600);
  const spec = { ...DEFAULT_REQUEST, token, certificate: pki.envoyCertificate };
  const facts = { subject: SUBJECT, roles: ['customer'], kind: REQUEST_SERVICE.name, id: 'ord-7f3a9c21' };
  const configFile = join(work, 'portcullis.yaml');
  await writeFile(
    configFile,
    stringify(portcullisConfig({ issuer: ISSUER, audience: AUDIENCE, jwksFile, trustBundleFile })),
  );
  const mesh = generateMesh(options.realistic);
  const dirs = {
    examples: join(work, 'policies-examples'),
    realistic: join(work, 'policies-realistic'),
    cerbos: join(work, 'cerbos-policies'),
  };
  for (const dir of Object.values(dirs)) await rm(dir, { recursive: true, force: true });
  const examples = existsSync(join(root, 'policies')) ? join(root, 'policies') : undefined;
  await writePortcullisPolicies([REQUEST_SERVICE], dirs.examples, examples);
  await writePortcullisPolicies(mesh, dirs.realistic, examples);
  await writeCerbosPolicies(mesh, dirs.cerbos);
  const ctx: BenchContext = {
    root,
    work,
    plan: { ...options, logFile: join(work, 'h2load-requests.log') },
    envoyBody: encodeCheckRequest(buildCheckRequest(spec)),
    probes: [
      {
        name: 'no peer certificate',
        body: encodeCheckRequest(buildCheckRequest({ ...spec, certificate: '' })),
        status: 403,
      },
      {
        name: 'forged token',
        body: encodeCheckRequest(buildCheckRequest({ ...spec, token: forge(token) })),
        status: 401,
      },
    ],
    cerbosBody: buildCerbosRequest(spec, facts),
    portcullisConfig: configFile,
    jwksFile,
    cerbosBinary: findCerbosBinary(),
    scalingSec: options.quick ? 3 : 5,
  };
  return { ctx, dirs, services: mesh.length, headers: Object.keys(requestHeaders(spec)).length };
}
