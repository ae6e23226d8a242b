import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  repoRoot,
  startTestService,
  testkitEngine,
  writeEngines,
  type TestService,
} from '../helpers/service.js';
import { launchChromium } from '../helpers/browser.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
async function makePki(dir: string): Promise<void> {
  const ssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=menagerie test CA',
  ]);
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await ssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ]);
    await run('sh', ['-c', `printf '${ext}\\n' > ${name}.ext`], { cwd: dir });
    await ssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ]);
  }
  // A second CA the server does not trust, with a client certificate of its own.
  await ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'rogue.key',
    '-out',
    'rogue.pem',
    '-days',
    '1',
    '-subj',
    '/CN=rogue',
  ]);
}

function get(
  url: string,
  options: https.RequestOptions,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const request = https.get(url, options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (d: string) => (body += d));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('native TLS and mTLS', () => {
  let dir: string;
  let tls: TestService;
  let mtls: TestService;
  const pem: Record<string, Buffer> = {};

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'menagerie-pki-'));
    await makePki(dir);
    for (const name of ['ca.pem', 'client.pem', 'client.key', 'rogue.pem', 'rogue.key'])
      pem[name] = await readFile(path.join(dir, name));
    const engines = await writeEngines([testkitEngine('echo', { cmd: '/engine/echo.sh' })]);
    const files = { tlsCert: path.join(dir, 'server.pem'), tlsKey: path.join(dir, 'server.key') };
    tls = await startTestService({ engines, flags: files });
    mtls = await startTestService({ engines, flags: { ...files, tlsClientCa: path.join(dir, 'ca.pem') } });
  }, 120_000);

  afterAll(async () => {
    await tls?.stop();
    await mtls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS that a client trusting the CA accepts, and that others refuse', async () => {
    expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await get(`${tls.url}/healthz`, { ca: pem['ca.pem'] })).toMatchObject({ status: 200 });
    expect(await get(`${tls.url}/healthz`, {})).toHaveProperty('error');
    const plain = await fetch(tls.url.replace('https:', 'http:') + '/healthz').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('serves the console over HTTPS: it loads, lists engines and goes live', async () => {
    const browser = await launchChromium();
    try {
      // The throwaway CA is not in the browser's store; the certificate chain itself is checked by the tests above.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${tls.url}/console/#/engines`);
      await expect.poll(() => page.locator('#live').textContent()).toBe('live');
      await expect
        .poll(async () => (await page.content()).includes('localhost:5000/testkit:stable'))
        .toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('lets the CLI talk to it with --ca, and says why without it', async () => {
    const ok = await run(process.execPath, [
      cli,
      'engines',
      '--json',
      '--server',
      tls.url,
      '--ca',
      path.join(dir, 'ca.pem'),
    ]);
    expect((JSON.parse(ok.stdout) as { name: string }[]).map((e) => e.name)).toEqual(['echo']);
    const refused = await run(process.execPath, [cli, 'engines', '--server', tls.url]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/certificate/i);
  });

  it('with --tls-client-ca, completes the handshake only for a client certificate the CA signed', async () => {
    const withCert = await get(`${mtls.url}/healthz`, {
      ca: pem['ca.pem'],
      cert: pem['client.pem'],
      key: pem['client.key'],
    });
    expect(withCert).toMatchObject({ status: 200 });
    const without = await get(`${mtls.url}/healthz`, { ca: pem['ca.pem'] });
    expect(without).toHaveProperty('error');
    const rogue = await get(`${mtls.url}/healthz`, {
      ca: pem['ca.pem'],
      cert: pem['rogue.pem'],
      key: pem['rogue.key'],
    });
    expect(rogue).toHaveProperty('error');
  });
});
