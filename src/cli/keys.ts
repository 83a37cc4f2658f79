import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import { type BundleAlg, generateBundleKeyPair } from '../bundle/index.js';
import { type CliIo, UsageError } from './io.js';

const USAGE = `Usage: portcullis keys generate --alg EdDSA|ES256 --kid KID --out DIR

Generates a bundle signing key pair:
  DIR/KID.private.jwk.json  the private key (mode 0600): --signing-key / --key of the control plane and bundle build
  DIR/KID.public.jwk.json   the public key
  DIR/jwks.json             every public key in DIR (created or merged): the sidecar's policy.bundle.keys.files
Keep several keys in jwks.json to rotate: sidecars trust all of them, bundles name theirs by kid.

  --alg EdDSA|ES256   EdDSA (Ed25519, default) or ES256 (ECDSA P-256)
  --kid KID           key id written into every signature (letters, digits, . _ -)
  --out DIR           output directory (created if missing)`;

async function mergeJwks(path: string, key: JWK): Promise<number> {
  let keys: JWK[] = [];
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as { keys?: JWK[] };
    keys = Array.isArray(doc.keys) ? doc.keys : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new UsageError(`${path} is not a JWKS: ${(e as Error).message}`);
  }
  keys = [...keys.filter((k) => k.kid !== key.kid), key];
  await writeFile(path, `${JSON.stringify({ keys }, null, 2)}\n`);
  return keys.length;
}

/** `portcullis keys generate`: writes a new signing key pair and merges its public key into DIR/jwks.json. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      alg: { type: 'string', default: 'EdDSA' },
      kid: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (positionals[0] === 'generate') positionals.shift();
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.alg !== 'EdDSA' && values.alg !== 'ES256') throw new UsageError('--alg must be EdDSA or ES256');
  if (!values.kid || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(values.kid))
    throw new UsageError('--kid is required: letters, digits, ".", "_" or "-"');
  if (!values.out) throw new UsageError('--out DIR is required');
  const alg: BundleAlg = values.alg;
  const { privateJwk, publicJwk } = await generateBundleKeyPair(alg, values.kid);
  await mkdir(values.out, { recursive: true });
  const priv = join(values.out, `${values.kid}.private.jwk.json`);
  const pub = join(values.out, `${values.kid}.public.jwk.json`);
  await writeFile(priv, `${JSON.stringify(privateJwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' }).catch(
    (e: NodeJS.ErrnoException) => {
      throw e.code === 'EEXIST' ? new UsageError(`${priv} exists: choose another --kid`) : e;
    },
  );
  await writeFile(pub, `${JSON.stringify(publicJwk, null, 2)}\n`);
  const count = await mergeJwks(join(values.out, 'jwks.json'), publicJwk);
  io.stdout(
    `generated ${alg} key ${values.kid}\n  private: ${priv}\n  public:  ${pub}\n  jwks:    ${join(values.out, 'jwks.json')} (${count} key${count === 1 ? '' : 's'})`,
  );
  return 0;
}
