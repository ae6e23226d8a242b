import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  leftoversOf,
  startTestService,
  submit,
  testkitEngine,
  waitForFinal,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

describe('OpenAPI document and Prometheus metrics', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({
      engines: await writeEngines([testkitEngine('echo', { cmd: '/engine/echo.sh' })]),
    });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('documents every public route, with the schemas the routes validate with', async () => {
    const response = await fetch(`${svc.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const routes = svc.service.app!.registeredRoutes.filter((r) => !r.hidden && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(10);
    const missing = routes.filter((r) => {
      const openApiPath = r.url.replace(/:(\w+)/g, '{$1}');
      return !doc.paths[openApiPath]?.[r.method.toLowerCase()];
    });
    expect(missing).toEqual([]);
    expect(doc.paths['/api/v1/jobs/{id}']?.get?.responses?.['200']).toBeDefined();
    expect(doc.paths['/{engine}/upload']?.post).toBeDefined();
    const docs = await fetch(`${svc.url}/api/v1/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('counts jobs by engine and final state, and exports queue depth and timings', async () => {
    const id = await submit(svc.url, 'echo', Buffer.from('count me'));
    expect((await waitForFinal(svc.url, id)).state).toBe('succeeded');
    const response = await fetch(`${svc.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/^menagerie_jobs_submitted_total\{engine="echo"\} 1$/m);
    expect(text).toMatch(/^menagerie_jobs_finished_total\{engine="echo",state="succeeded"\} 1$/m);
    expect(text).toMatch(/^menagerie_job_run_seconds_count\{engine="echo"\} 1$/m);
    expect(text).toMatch(/^menagerie_container_start_seconds_count\{engine="echo"\} 1$/m);
    expect(text).toMatch(/^menagerie_upload_bytes_total 8$/m);
    expect(text).toMatch(/^menagerie_active_workers\{engine="echo"\} 0$/m);
  });

  it('reports readiness of the database and Docker', async () => {
    const ready = (await (await fetch(`${svc.url}/readyz`)).json()) as {
      status: string;
      checks: Record<string, string>;
    };
    expect(ready).toEqual({ status: 'ready', checks: { database: 'ok', docker: 'ok' } });
    expect(await (await fetch(`${svc.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});
