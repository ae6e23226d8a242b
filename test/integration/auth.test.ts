import { execFile } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJobStore } from '../../src/adapters/store/open-job-store.js';
import { KyselyTokenStore } from '../../src/adapters/store/sql/kysely-token-store.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { Scope } from '../../src/domain/index.js';
import { accessTable } from '../../src/http/plugins/auth.js';
import { TokenService } from '../../src/services/token-service.js';
import {
  leftoversOf,
  repoRoot,
  startTestService,
  testkitEngine,
  waitFor,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function call(
  url: string,
  token: string | undefined,
  init: RequestInit = {},
): Promise<{
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const response = await fetch(url, { ...init, headers });
  const text = await response.text();
  let body = {};
  try {
    body = JSON.parse(text) as object;
  } catch {
    body = { text };
  }
  return { status: response.status, body };
}

function uploadForm(field: string, content: string): FormData {
  const form = new FormData();
  form.append(field, new Blob([content]), 'sample.txt');
  return form;
}

describe('API access control with --auth required', () => {
  let svc: TestService;
  let tokens: TokenService;
  let closeStore: () => Promise<void>;
  const t: Record<string, string> = {};

  beforeAll(async () => {
    const engines = await writeEngines([
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
      testkitEngine('ok', { cmd: '/engine/ok.sh' }),
    ]);
    svc = await startTestService({ engines, flags: { auth: 'required' } });
    // The CLI writes tokens into the service's own database and prints the secret alone, last.
    const created = await runCli([
      'token',
      'create',
      'alice',
      '--scope',
      'submit,read',
      '--data',
      svc.dataDir,
    ]);
    expect(created.code).toBe(0);
    const lines = created.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    t.alice = lines[0] as string;
    expect(t.alice).toMatch(/^mng_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);

    const config = loadConfig({ env: {}, flags: { data: svc.dataDir } });
    const store = openJobStore(config.db as string, pino({ level: 'silent' }));
    const tokenStore = new KyselyTokenStore(store.db);
    tokens = new TokenService(tokenStore, tokenStore);
    closeStore = () => store.close();
    const make = async (
      name: string,
      scopes: Scope[],
      extra: { engines?: string[]; expiresInMs?: number } = {},
    ) => (await tokens.create({ name, scopes, createdBy: 'test', ...extra })).token;
    t.bob = await make('bob', ['submit', 'read']);
    t.echoOnly = await make('echo-only', ['submit', 'read'], { engines: ['echo'] });
    t.reader = await make('reader', ['read']);
    t.auditor = await make('auditor', ['read-all']);
    t.admin = await make('admin', ['admin']);
    t.revoked = await make('revoked', ['submit', 'read']);
    t.expiring = await make('expiring', ['submit', 'read'], { expiresInMs: 1000 });
  }, 120_000);

  afterAll(async () => {
    await closeStore?.();
    await svc?.stop();
    expect(await leftoversOf(svc.workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('answers a missing, malformed, unknown, expired or revoked token with 401 everywhere but /healthz and the console', async () => {
    expect((await call(`${svc.url}/healthz`, undefined)).status).toBe(200);
    const consolePage = await fetch(`${svc.url}/console/`);
    expect(consolePage.status).toBe(200);
    expect(consolePage.headers.get('content-security-policy')).toMatch(
      /default-src 'self'.*frame-ancestors 'none'/,
    );
    expect(consolePage.headers.get('x-frame-options')).toBe('DENY');
    expect(consolePage.headers.get('x-content-type-options')).toBe('nosniff');
    expect(consolePage.headers.get('referrer-policy')).toBe('no-referrer');

    expect((await call(`${svc.url}/api/v1/openapi.json`, undefined)).status).toBe(200);
    expect((await fetch(`${svc.url}/api/v1/docs/`)).status).toBe(200);

    const missing = await call(`${svc.url}/api/v1/jobs`, undefined);
    expect(missing.status).toBe(401);
    expect(missing.body.error?.code).toBe('UNAUTHORIZED');
    for (const url of [
      '/api/v1/engines',
      '/readyz',
      '/metrics',
      '/result/AAAAAAAAAAAAAAAAAAAAAA',
      '/nowhere',
    ]) {
      expect((await call(`${svc.url}${url}`, undefined)).status, url).toBe(401);
    }
    const upload = await call(`${svc.url}/echo/upload`, undefined, {
      method: 'POST',
      body: uploadForm('upload', 'x'),
    });
    expect(upload.status).toBe(401);

    expect((await call(`${svc.url}/api/v1/jobs`, 'not-a-token')).status).toBe(401);
    const forged = t.alice!.slice(0, -4) + 'AAAA';
    expect((await call(`${svc.url}/api/v1/jobs`, forged)).status).toBe(401);
    expect((await call(`${svc.url}/api/v1/jobs`, 'mng_0000000000000000_' + 'A'.repeat(43))).status).toBe(401);

    expect((await call(`${svc.url}/api/v1/jobs`, t.revoked)).status).toBe(200);
    const revoke = await runCli(['token', 'revoke', 'revoked', '--data', svc.dataDir]);
    expect(revoke.code).toBe(0);
    const revoked = await call(`${svc.url}/api/v1/jobs`, t.revoked);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error?.message).toContain('revoked');

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await call(`${svc.url}/api/v1/jobs`, t.expiring);
    expect(expired.status).toBe(401);
    expect(expired.body.error?.message).toContain('expired');

    const list = await runCli(['token', 'list', '--json', '--data', svc.dataDir]);
    const listed = JSON.parse(list.stdout) as { tokens: { name: string; status: string }[] };
    expect(listed.tokens.find((x) => x.name === 'revoked')?.status).toBe('revoked');
    expect(listed.tokens.find((x) => x.name === 'expiring')?.status).toBe('expired');
    expect(list.stdout).not.toContain(t.alice!.slice(-43));
  });

  it('names the access of every route in one table (a route left out needs admin)', () => {
    const table = new Set(accessTable.map(([method, url]) => `${method} ${url}`));
    const missing = svc.service
      .app!.registeredRoutes.filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/internal/'))
      .filter((r) => !r.url.startsWith('/api/v1/docs'))
      .map((r) => `${r.method} ${r.url}`)
      .filter((key) => !table.has(key));
    expect(missing).toEqual([]);
  });

  it('lets the CLI send its token from --token or MENAGERIE_TOKEN', async () => {
    const without = await runCli(['jobs', '--json', '--server', svc.url]);
    expect(without.code).toBe(5);
    expect(without.stderr).toContain('needs a token');
    const withFlag = await runCli(['jobs', '--json', '--server', svc.url, '--token', t.bob!]);
    expect(withFlag.code).toBe(0);
    expect(JSON.parse(withFlag.stdout)).toHaveProperty('jobs');
  });

  it('answers a wrong scope or engine with 403 and stores nothing', async () => {
    const noSubmit = await call(`${svc.url}/echo/upload`, t.reader, {
      method: 'POST',
      body: uploadForm('upload', 'x'),
    });
    expect(noSubmit.status).toBe(403);
    expect(noSubmit.body.error?.code).toBe('FORBIDDEN');

    const otherEngine = await call(`${svc.url}/ok/upload`, t.echoOnly, {
      method: 'POST',
      body: uploadForm('upload', 'x'),
    });
    expect(otherEngine.status).toBe(403);
    const form = uploadForm('file', 'x');
    form.set('engine', 'ok');
    const v1 = await call(`${svc.url}/api/v1/jobs`, t.echoOnly, { method: 'POST', body: form });
    expect(v1.status).toBe(403);
    const allowed = await call(`${svc.url}/echo/upload`, t.echoOnly, {
      method: 'POST',
      body: uploadForm('upload', 'mine'),
    });
    expect(allowed.status).toBe(200);

    expect((await call(`${svc.url}/api/v1/audit-log`, t.alice)).status).toBe(403);
    expect((await call(`${svc.url}/api/v1/jobs`, t.admin)).status).toBe(403);
    const mine = await call(`${svc.url}/api/v1/jobs`, t.echoOnly);
    expect((mine.body.jobs as unknown[]).length).toBe(1);
  });

  it("answers another tenant's job with 404, as for a job that does not exist; read-all sees every job", async () => {
    const submitted = await call(`${svc.url}/echo/upload`, t.alice, {
      method: 'POST',
      body: uploadForm('upload', 'alice secret'),
    });
    expect(submitted.status).toBe(200);
    const id = submitted.body.jobid as string;
    await waitFor('alice job to finish', async () => {
      const job = await call(`${svc.url}/api/v1/jobs/${id}`, t.alice);
      return ['succeeded', 'failed'].includes(job.body.state as string) ? job : undefined;
    });

    const nonexistent = await call(`${svc.url}/api/v1/jobs/AAAAAAAAAAAAAAAAAAAAAA`, t.bob);
    for (const route of [
      `/api/v1/jobs/${id}`,
      `/api/v1/jobs/${id}/result`,
      `/api/v1/jobs/${id}/logs`,
      `/result/${id}`,
      `/link/${id}`,
    ]) {
      const other = await call(`${svc.url}${route}`, t.bob);
      expect(other.status, route).toBe(404);
      expect(other.body.error?.code, route).toBe(nonexistent.body.error?.code);
    }
    expect((await call(`${svc.url}/api/v1/jobs/${id}`, t.bob, { method: 'DELETE' })).status).toBe(404);
    const bobList = await call(`${svc.url}/api/v1/jobs`, t.bob);
    expect(bobList.body.jobs).toEqual([]);

    const own = await call(`${svc.url}/link/${id}`, t.alice);
    expect(own.status).toBe(200);
    expect(JSON.stringify(own.body)).toContain('alice secret');
    const all = await call(`${svc.url}/api/v1/jobs/${id}`, t.auditor);
    expect(all.status).toBe(200);
    const allList = await call(`${svc.url}/api/v1/jobs`, t.auditor);
    expect((allList.body.jobs as { id: string }[]).map((j) => j.id)).toContain(id);
  });

  it('streams events only for jobs the caller may see, with the token in access_token', async () => {
    expect((await fetch(`${svc.url}/api/v1/events`)).status).toBe(401);
    const controller = new AbortController();
    const events = await fetch(`${svc.url}/api/v1/events?access_token=${encodeURIComponent(t.bob!)}`, {
      signal: controller.signal,
    });
    expect(events.status).toBe(200);
    const seen: string[] = [];
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        seen.push(value ?? '');
      }
    })();
    const alices = await call(`${svc.url}/echo/upload`, t.alice, {
      method: 'POST',
      body: uploadForm('upload', 'a'),
    });
    const bobs = await call(`${svc.url}/echo/upload`, t.bob, {
      method: 'POST',
      body: uploadForm('upload', 'b'),
    });
    await waitFor('bob event', async () =>
      seen.join('').includes(bobs.body.jobid as string) ? true : undefined,
    );
    controller.abort();
    await reading;
    expect(seen.join('')).not.toContain(alices.body.jobid as string);
  });

  it('lets an admin list, create and revoke tokens over the API, the secret shown once', async () => {
    expect((await call(`${svc.url}/api/v1/tokens`, t.alice)).status).toBe(403);
    const created = await call(`${svc.url}/api/v1/tokens`, t.admin, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'api-made', scopes: ['read'], expires: '1h' }),
    });
    expect(created.status).toBe(201);
    const secret = created.body.token as string;
    expect((await call(`${svc.url}/api/v1/jobs`, secret)).status).toBe(200);
    const listed = await call(`${svc.url}/api/v1/tokens`, t.admin);
    const names = (listed.body.tokens as { name: string; createdBy: string }[]).map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['alice', 'api-made']));
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice(-43));
    expect((await call(`${svc.url}/api/v1/tokens/api-made`, t.admin, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${svc.url}/api/v1/jobs`, secret)).status).toBe(401);
    expect((await call(`${svc.url}/api/v1/tokens/api-made`, t.admin, { method: 'DELETE' })).status).toBe(404);
  });

  it('keeps an audit log of refused requests and admin actions, readable by admins only', async () => {
    const log = await call(`${svc.url}/api/v1/audit-log?limit=500`, t.admin);
    expect(log.status).toBe(200);
    const entries = log.body.entries as {
      actor: string | null;
      action: string;
      target: string;
      outcome: string;
    }[];
    expect(
      entries.some(
        (e) => e.action === 'request.refused' && e.outcome === '401' && e.target === 'GET /api/v1/jobs',
      ),
    ).toBe(true);
    expect(
      entries.some((e) => e.action === 'request.refused' && e.outcome === '403' && e.actor === 'reader'),
    ).toBe(true);
    expect(entries.some((e) => e.action === 'token.revoke' && e.target === 'revoked')).toBe(true);
    expect(entries.some((e) => e.action === 'token.create' && e.target === 'alice')).toBe(true);
    expect(
      entries.some((e) => e.action === 'token.revoke' && e.target === 'api-made' && e.actor === 'admin'),
    ).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(t.bob!.slice(-43));
    const again = await call(`${svc.url}/api/v1/audit-log?limit=5`, t.admin);
    expect((again.body.entries as { action: string; actor: string }[])[0]).toMatchObject({
      action: 'admin.request',
      actor: 'admin',
    });
  });
});

describe('exposure at start', () => {
  it('refuses a non-loopback bind without --auth required, and plain HTTP there without a TLS proxy', () => {
    expect(() => loadConfig({ env: {}, flags: { host: '0.0.0.0' } })).toThrow(/--auth required/);
    expect(() => loadConfig({ env: { MENAGERIE_AUTH: 'required' }, flags: { host: '0.0.0.0' } })).toThrow(
      /--tls-cert.*--behind-tls-proxy/,
    );
    expect(
      loadConfig({
        env: { MENAGERIE_AUTH: 'required', MENAGERIE_BEHIND_TLS_PROXY: 'true' },
        flags: { host: '0.0.0.0' },
      }).behindTlsProxy,
    ).toBe(true);
  });

  it('says why when "menagerie serve" refuses to start', async () => {
    const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('needs --auth required');
  });
});
