/** `portcullis break-glass issue|list|verify|revoke`: signed, time-limited exceptions. */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSigningKey, loadTrustedKeys, readBreakGlassDir } from '../bundle/index.js';
import { parseDurationMs } from '../config/duration.js';
import {
  type BreakGlassGrant,
  decodeBreakGlass,
  issueBreakGlass,
  MAX_BREAK_GLASS_MS,
  verifyBreakGlass,
} from '../rollout/index.js';
import { type CliIo, UsageError } from './io.js';

const USAGE = `Usage: portcullis break-glass <issue|list|verify|revoke> ...

  break-glass issue --key KEY --who ID --why TEXT (--for DURATION | --until TIME)
                    (--host H | --path P)... [--method M]... [--service S] [--issuer NAME]
                    [--id ID] [--kid KID] [--out DIR]
      Signs an exception (JWS): principal ID may do METHOD on HOST/PATH (globs, "*") until the time
      given (at most ${MAX_BREAK_GLASS_MS / 3_600_000}h). With --out DIR (the control plane's --break-glass-dir) it is written
      there as ID.jws and reaches every sidecar with the next bundle (about the time to revoke);
      otherwise the token is printed. Sidecars answer allow with reason break_glass, log and count it.
  break-glass list DIR          the exceptions in DIR, active or expired (verifies nothing)
  break-glass verify FILE --keys JWKS   checks the signature against trusted keys
  break-glass revoke DIR --id ID        deletes DIR/ID.jws: sidecars stop honouring it with the next bundle

KEY is a private JWK or PKCS#8 PEM (portcullis keys generate); sidecars trust it through bundle.keys.`;

const OPTIONS = {
  key: { type: 'string' },
  kid: { type: 'string' },
  keys: { type: 'string', multiple: true },
  who: { type: 'string' },
  why: { type: 'string' },
  for: { type: 'string' },
  until: { type: 'string' },
  method: { type: 'string', multiple: true },
  host: { type: 'string', multiple: true },
  path: { type: 'string', multiple: true },
  service: { type: 'string' },
  issuer: { type: 'string' },
  id: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function describe(g: BreakGlassGrant, nowMs: number): string {
  const what = [
    g.what.methods?.join(',') ?? '*',
    `${(g.what.hosts ?? ['*']).join(',')}${(g.what.paths ?? ['*']).join(',')}`,
  ].join(' ');
  const state = nowMs >= g.untilMs ? 'EXPIRED' : 'active';
  return `${g.id}  ${state} until ${new Date(g.untilMs).toISOString()}  who=${g.who}  what=${what}${g.service ? `  service=${g.service}` : ''}  why=${JSON.stringify(g.whyText)}  kid=${g.kid}`;
}

function untilOf(v: Values, now: number): number {
  if ((v.for === undefined) === (v.until === undefined))
    throw new UsageError('give exactly one of --for or --until');
  if (v.for !== undefined) {
    const ms = parseDurationMs(v.for);
    if (ms === undefined || ms <= 0) throw new UsageError('--for must be a duration such as 30m or 2h');
    return now + ms;
  }
  const t = Date.parse(v.until as string);
  if (Number.isNaN(t)) throw new UsageError('--until must be an RFC 3339 time');
  return t;
}

async function issue(v: Values, io: CliIo): Promise<number> {
  if (!v.key || !v.who || !v.why) throw new UsageError('issue needs --key, --who and --why');
  const now = Date.now();
  const signer = await loadSigningKey(v.key, v.kid);
  const what = { methods: v.method?.map((m) => m.toUpperCase()), hosts: v.host, paths: v.path };
  let issued: Awaited<ReturnType<typeof issueBreakGlass>>;
  try {
    const req = {
      who: v.who,
      why: v.why,
      what,
      untilMs: untilOf(v, now),
      issuer: v.issuer,
      service: v.service,
      id: v.id,
    };
    issued = await issueBreakGlass(req, signer, now);
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
  if (v.out === undefined) {
    io.stdout(issued.token);
    return 0;
  }
  const file = join(v.out, `${issued.grant.id}.jws`);
  await writeFile(`${file}.tmp`, `${issued.token}\n`, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
  io.stdout(`issued ${describe(issued.grant, now)}\nwrote ${file}`);
  return 0;
}

async function list(dir: string, io: CliIo): Promise<number> {
  const { files, problems } = await readBreakGlassDir(dir);
  for (const f of files) io.stdout(describe(f.grant, Date.now()));
  for (const p of problems) io.stderr(`unusable: ${p}`);
  if (files.length === 0 && problems.length === 0) io.stdout(`no exceptions in ${dir}`);
  return problems.length > 0 ? 1 : 0;
}

/** Runs a break-glass subcommand. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  const [sub, target, ...extra] = positionals;
  if (v.help || sub === undefined) {
    io.stdout(USAGE);
    return sub === undefined && !v.help ? 2 : 0;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  if (sub === 'issue') return issue(v, io);
  if (target === undefined) throw new UsageError(`${sub} needs a ${sub === 'verify' ? 'FILE' : 'DIR'}`);
  if (sub === 'list') return list(target, io);
  if (sub === 'verify') {
    if (!v.keys?.length) throw new UsageError('verify needs --keys JWKS');
    const r = await verifyBreakGlass(
      await readFile(target, 'utf8'),
      await loadTrustedKeys({ files: v.keys, inline: [] }),
    );
    io[r.ok ? 'stdout' : 'stderr'](r.ok ? `valid: ${describe(r.grant, Date.now())}` : `invalid: ${r.detail}`);
    return r.ok ? 0 : 1;
  }
  if (sub === 'revoke') {
    if (!v.id || !/^[A-Za-z0-9._-]{1,128}$/.test(v.id)) throw new UsageError('revoke needs --id ID');
    const file = join(target, `${v.id}.jws`);
    const d = decodeBreakGlass(await readFile(file, 'utf8'));
    await unlink(file);
    io.stdout(`revoked ${d.ok ? describe(d.grant, Date.now()) : v.id} (removed ${file})`);
    return 0;
  }
  throw new UsageError(`unknown subcommand ${sub}`);
}
