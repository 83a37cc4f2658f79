/**
 * A static HTTP server as the control plane: real nginx (Debian nginx-light) on loopback serves
 * bundle files with its own ETags; the puller polls it with If-None-Match.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundlePuller } from '../../src/bundle/index.js';
import {
  decide,
  makeDeps,
  makeKey,
  pullerConfig,
  signedBundle,
  type TestKey,
  tagOf,
  waitFor,
} from '../unit/bundle/fixtures.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? whichNginx();
const skip = NGINX === undefined && process.env.CI !== 'true';
if (skip) console.log('bundle-nginx: skipped — nginx is not installed (apt-get install nginx-light)');

function whichNginx(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

let prefix: string;
let nginx: ChildProcess | undefined;
let base: string;
let key: TestKey;
const stderr: string[] = [];

/** Publishes a bundle file the way a deploy job would: write a temp file, then rename over. */
async function publish(bytes: Buffer, mtimeSeconds: number): Promise<void> {
  const tmp = join(prefix, 'www', '.orders.tar.gz.tmp');
  await writeFile(tmp, bytes);
  // nginx's ETag is mtime-size: give every publication its own mtime.
  await utimes(tmp, mtimeSeconds, mtimeSeconds);
  await rename(tmp, join(prefix, 'www', 'orders.tar.gz'));
}

beforeAll(async () => {
  if (skip) return;
  if (NGINX === undefined) throw new Error('CI=true: nginx is required (apt-get install nginx-light)');
  key = await makeKey('nginx');
  prefix = await mkdtemp(join(tmpdir(), 'portcullis-nginx-'));
  // Started as root, nginx's workers run as an unprivileged user: the served tree must be readable.
  await chmod(prefix, 0o755);
  await mkdir(join(prefix, 'www'));
  await mkdir(join(prefix, 'tmp'));
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (t) => `${t}_temp_path ${prefix}/tmp/${t};`,
  );
  await writeFile(
    join(prefix, 'nginx.conf'),
    `pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  ${temp.join('\n  ')}
  types { application/gzip gz; }
  server {
    listen 127.0.0.1:${port};
    root ${prefix}/www;
    etag on;
  }
}
`,
  );
  nginx = spawn(
    NGINX,
    ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log'), '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  nginx.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await fetch(`${base}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || nginx.exitCode !== null)
      throw new Error(`nginx did not start: ${stderr.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx?.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  if (prefix) await rm(prefix, { recursive: true, force: true });
});

describe.skipIf(skip)('bundles served by nginx', () => {
  it('picks up a new revision; 304s cost no reload', async () => {
    const now = Math.floor(Date.now() / 1000);
    await publish(await signedBundle(key, 1, { service: 'orders' }), now - 100);
    const deps = makeDeps();
    const puller = createBundlePuller(
      pullerConfig({
        url: `${base}/orders.tar.gz`,
        service: 'orders',
        keys: { inline: [key.publicJwk] },
        pollInterval: '100ms',
      }),
      deps,
    );
    await puller.start();
    try {
      await waitFor(() => deps.current() !== undefined, 5000, 'revision 1').catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(puller.status())}`);
      });
      expect(tagOf(decide(deps.current(), '/probe'))).toBe('1');
      const etag1 = puller.status().etag;
      expect(etag1).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/); // nginx's own "mtime-size" ETag

      // Several polls answered 304 by nginx: no download, no verification, no activation.
      const seen = puller.status().notModified;
      await waitFor(() => puller.status().notModified >= seen + 3, 5000, 'three 304s');
      expect(deps.history).toHaveLength(1);
      expect(puller.status()).toMatchObject({ activations: 1, rejections: 0 });

      await publish(await signedBundle(key, 2, { service: 'orders' }), now - 50);
      await waitFor(() => deps.current()?.revision === '2', 5000, 'revision 2');
      expect(tagOf(decide(deps.current(), '/probe'))).toBe('2');
      expect(puller.status().etag).not.toBe(etag1);
      expect(deps.history.map((b) => b.revision)).toEqual(['1', '2']);
      expect(nginx?.exitCode).toBeNull();
    } finally {
      await puller.stop();
    }
  });
});
