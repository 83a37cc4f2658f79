/** Turns `identity.jwt` config into ready verifiers: key sources started, secrets read, options built. */
import { readFile } from 'node:fs/promises';
import type { JWTVerifyOptions } from 'jose';
import type { Logger } from 'pino';
import { isHmac } from './config-jwt.js';
import type { IdentityConfig } from './config-schema.js';
import { JwksSource } from './jwks-source.js';
import type { ProviderRuntime } from './jwt-verifier.js';

type ProviderConfig = IdentityConfig['jwt']['providers'][number];

/** RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. */
const MIN_SECRET_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };

async function loadSecret(p: ProviderConfig, where: string, problems: string[]): Promise<Uint8Array | null> {
  if (p.secret === undefined) return null;
  let bytes: Uint8Array | null = null;
  if (p.secret.file !== undefined) {
    bytes = await readFile(p.secret.file).catch(() => null);
    if (bytes === null) problems.push(`${where}: cannot read secret file ${p.secret.file}`);
  } else if (p.secret.env !== undefined) {
    const v = process.env[p.secret.env];
    if (v === undefined || v === '')
      problems.push(`${where}: environment variable ${p.secret.env} is not set`);
    else bytes = Buffer.from(v, 'utf8');
  }
  if (bytes === null) return null;
  const need = Math.max(0, ...p.algorithms.filter(isHmac).map((a) => MIN_SECRET_BYTES[a] ?? 0));
  if (bytes.length < need) {
    problems.push(
      `${where}: secret is ${bytes.length} bytes, ${p.algorithms.filter(isHmac).join('/')} needs ≥ ${need}`,
    );
    return null;
  }
  return bytes;
}

async function loadKeys(
  p: ProviderConfig,
  where: string,
  logger: Logger,
  reloadMs: number,
  problems: string[],
): Promise<JwksSource | null> {
  const jwks = p.jwks;
  if (jwks === undefined) return null;
  let source: JwksSource | string;
  if (jwks.inline !== undefined) source = JwksSource.fromDocument(where, logger, JSON.stringify(jwks.inline));
  else if (jwks.file !== undefined) source = await JwksSource.fromFile(where, logger, jwks.file, reloadMs);
  else {
    source = JwksSource.fromUrl(where, logger, {
      url: jwks.url!,
      refreshIntervalMs: jwks.refreshInterval,
      timeoutMs: jwks.timeout,
      kidMissMinIntervalMs: jwks.kidMissMinInterval,
      staleIfErrorMs: jwks.staleIfError,
      maxBytes: jwks.maxBytes,
    });
  }
  if (typeof source === 'string') {
    problems.push(source);
    return null;
  }
  return source;
}

/** Builds every provider; returns them with every problem found (the caller fails on any). */
export async function loadProviders(
  config: IdentityConfig,
  logger: Logger,
): Promise<{ providers: ProviderRuntime[]; problems: string[] }> {
  const providers: ProviderRuntime[] = [];
  const problems: string[] = [];
  for (const [i, p] of config.jwt.providers.entries()) {
    const where = `identity.jwt.providers[${i}] (${p.issuer})`;
    const secret = await loadSecret(p, where, problems);
    const keys = await loadKeys(p, where, logger, config.spiffe.reloadInterval, problems);
    const options: JWTVerifyOptions = {
      algorithms: [...p.algorithms],
      issuer: p.issuer,
      clockTolerance: p.clockSkew / 1000,
      requiredClaims: [...p.requiredClaims],
      ...(p.audiences.length > 0 ? { audience: [...p.audiences] } : {}),
      ...(p.maxTokenAge > 0 ? { maxTokenAge: p.maxTokenAge / 1000 } : {}),
    };
    providers.push({
      issuer: p.issuer,
      algorithms: p.algorithms,
      keys,
      secret,
      options,
      claims: p.claims,
      maxTokenAgeMs: p.maxTokenAge,
    });
  }
  return { providers, problems };
}
