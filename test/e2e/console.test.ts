// The web console in a real browser (Debian's Chromium, driven by playwright-core)
// against the real service with real containers.

import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  leftoversOf,
  repoRoot,
  startTestService,
  testkitEngine,
  waitForFinal,
  writeEngines,
  type JobJson,
  type TestService,
} from '../helpers/service.js';
import { openJobStore } from '../../src/adapters/store/open-job-store.js';
import { KyselyTokenStore } from '../../src/adapters/store/sql/kysely-token-store.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TokenService } from '../../src/services/token-service.js';

// Screenshots for docs/ are written on request only, so that a test run leaves the tree clean:
// UPDATE_SCREENSHOTS=1 npx vitest run test/e2e
const screenshots = process.env.UPDATE_SCREENSHOTS ? path.join(repoRoot, 'docs', 'screenshots') : null;
const hostileName = '<img src=x onerror=alert(1)>.txt';
const summaryJson = '{"verdict":"clean","hits":[1,2]}';

/** Makes an API token in a data directory's store, as `menagerie token create` does. */
async function createToken(dataDir: string): Promise<string> {
  const config = loadConfig({ env: {}, flags: { data: dataDir } });
  const store = openJobStore(config.db as string, pino({ level: 'silent' }));
  try {
    await store.migrate();
    const tokens = new KyselyTokenStore(store.db);
    const made = await new TokenService(tokens, tokens).create({
      name: 'console-test',
      scopes: ['read', 'submit'],
      createdBy: 'console test',
    });
    return made.token;
  } finally {
    await store.close();
  }
}

describe('the web console', () => {
  let svc: TestService;
  let enginesFile: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  // Anything that should never happen: script errors, CSP violations, a dialog opened by data.
  const problems: string[] = [];

  const watch = (p: Page, { consoleErrors = true } = {}): void => {
    p.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    p.on('console', (message) => {
      if (consoleErrors && message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    p.on('dialog', (dialog) => {
      problems.push(`dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
  };

  const submitByApi = async (engine: string, name: string, body: string): Promise<JobJson> => {
    const form = new FormData();
    form.append('engine', engine);
    form.append('file', new Blob([body]), name);
    const response = await fetch(`${svc.url}/api/v1/jobs`, { method: 'POST', body: form });
    expect(response.status).toBe(201);
    return ((await response.json()) as { jobs: JobJson[] }).jobs[0] as JobJson;
  };

  const rows = (p: Page) => p.locator('table.jobs tbody tr.job-row');
  const shot = async (p: Page, name: string): Promise<void> => {
    if (!screenshots) return;
    await p.screenshot({
      path: path.join(screenshots, `${name}.png`),
      fullPage: true,
      animations: 'disabled',
    });
  };

  beforeAll(async () => {
    if (screenshots) await mkdir(screenshots, { recursive: true });
    enginesFile = await writeEngines([
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
      testkitEngine('ok', { cmd: '/engine/ok.sh' }),
      testkitEngine('exit3', { cmd: '/engine/exit3.sh' }),
      testkitEngine('sleep', { cmd: '/engine/sleep.sh', timeout: 20 }),
      // Loosened on purpose (never run): the engines page must say so.
      testkitEngine('loose', {
        cmd: '/engine/ok.sh',
        description: 'writable root filesystem, Docker seccomp profile',
        security: { readOnlyRootfs: false, seccomp: 'docker-default' },
      }),
    ]);
    svc = await startTestService({ engines: enginesFile });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1360, height: 860 }, acceptDownloads: true });
    page = await context.newPage();
    watch(page);
  });

  afterAll(async () => {
    await browser?.close();
    const workerId = svc?.workerId;
    await svc?.stop();
    if (workerId) expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('submits a file through the page and follows it to succeeded live, without a reload', async () => {
    await page.goto(`${svc.url}/console/#/submit`);
    await expect.poll(() => page.locator('#live').textContent()).toBe('live');
    await page.evaluate('window.__sameDocument = true');

    await page.locator('#submit-files').setInputFiles({
      name: hostileName,
      mimeType: 'text/plain',
      buffer: Buffer.from(summaryJson),
    });
    await page.locator('input[name=engine][value=echo]').check();
    await page.getByRole('button', { name: /Submit 1 file to 1 engine/ }).click();

    await page.locator('.uploads li.ok', { hasText: '1 job created' }).waitFor();
    const followed = page.locator('.followed tr.job-row');
    await followed.locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    expect(await followed.locator('.file-name').textContent()).toBe(hostileName);
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await shot(page, 'submit');

    // The list shows it too, and a job submitted elsewhere appears and finishes live.
    await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
    await rows(page).first().waitFor();
    const other = await submitByApi('ok', 'second.bin', 'twelve bytes');
    const otherRow = page.locator(`tr[data-job-id="${other.id}"]`);
    await otherRow.waitFor();
    await otherRow.locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    expect(await page.locator('main img').count()).toBe(0);
  });

  it('shows a job: timeline, digest, the summary pretty-printed, logs and the result to download', async () => {
    await page.locator('tr.job-row', { hasText: 'echo' }).locator('a.file-name').first().click();
    await page.locator('.job-head h1').waitFor();
    expect(await page.locator('.job-head h1').textContent()).toBe(hostileName);
    expect(await page.locator('main img').count()).toBe(0);
    await expect
      .poll(() => page.locator('.timeline .step').allTextContents())
      .toEqual([
        expect.stringContaining('Submitted'),
        expect.stringContaining('Started'),
        expect.stringContaining('Succeeded'),
      ]);
    expect(await page.locator('pre.summary').textContent()).toBe(
      JSON.stringify(JSON.parse(summaryJson), null, 2),
    );
    expect(await page.locator('.card', { hasText: 'Image digest' }).textContent()).toMatch(
      /sha256:[0-9a-f]{64}/,
    );
    await page.locator('.stream-stdout pre.log', { hasText: '"verdict"' }).waitFor();

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /Download result/ }).click(),
    ]);
    expect(await readFile(await download.path(), 'utf8')).toBe(summaryJson);
    await shot(page, 'job');
  });

  it('runs a job again once the same file is chosen again', async () => {
    const firstId = page.url().split('#/jobs/')[1];
    await page.getByText('Run this file again').click();
    const picker = page.locator('input[name=resubmit-file]');
    await picker.setInputFiles({ name: 'other.txt', mimeType: 'text/plain', buffer: Buffer.from('not it') });
    await page.getByText('This is not the same file').waitFor();
    expect(await page.getByRole('button', { name: 'Run again' }).isDisabled()).toBe(true);

    await picker.setInputFiles({
      name: hostileName,
      mimeType: 'text/plain',
      buffer: Buffer.from(summaryJson),
    });
    await page.getByText('Same file (SHA-256 matches).').waitFor();
    await page.getByRole('button', { name: 'Run again' }).click();
    await page.waitForURL((url) => url.hash.startsWith('#/jobs/') && !url.hash.endsWith(firstId ?? ''));
    await page.locator('.job-head .badge', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    expect(await page.locator('.job-head h1').textContent()).toBe(hostileName);
  });

  it('shows why a job failed: reason, exit code and stderr', async () => {
    const job = await submitByApi('exit3', 'bad.bin', 'x');
    await waitForFinal(svc.url, job.id);
    await page.goto(`${svc.url}/console/#/jobs/${job.id}`);
    const outcome = page.locator('.card', { hasText: 'Outcome' });
    await outcome.locator('.badge', { hasText: 'failed' }).waitFor();
    expect(await outcome.locator('dd').allTextContents()).toEqual(expect.arrayContaining(['3', 'exit 3']));
    await page.locator('.stream-stderr pre.log', { hasText: 'failing on purpose' }).waitFor();
    await shot(page, 'job-failed');
  });

  it('cancels a running job from its page', async () => {
    const job = await submitByApi('sleep', 'forever.bin', 'z');
    await page.goto(`${svc.url}/console/#/jobs/${job.id}`);
    await page.locator('.job-head .badge', { hasText: 'running' }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.job-head .badge', { hasText: 'cancelled' }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
  });

  it('filters the list by engine and status, and finds by hash or id', async () => {
    await page.goto(`${svc.url}/console/#/jobs`);
    await expect.poll(() => rows(page).count()).toBe(5);
    await shot(page, 'jobs');
    await page.getByLabel('engine', { exact: true }).selectOption('exit3');
    await expect.poll(() => page.locator('tr.job-row td.engine').allTextContents()).toEqual(['exit3']);
    await page.getByLabel('status', { exact: true }).selectOption('succeeded');
    await page.locator('tr.empty-row', { hasText: 'No jobs match' }).waitFor();
    await page.getByLabel('engine', { exact: true }).selectOption('');
    await expect
      .poll(async () => new Set(await page.locator('tr.job-row .badge').allTextContents()))
      .toEqual(new Set(['succeeded']));
    expect(await rows(page).count()).toBe(3);

    const search = page.getByRole('searchbox');
    const sha = (await page
      .locator('tr.job-row', { hasText: 'echo' })
      .first()
      .locator('.hash')
      .getAttribute('data-copy'))!;
    await page.getByRole('link', { name: 'clear filters' }).click();
    await expect.poll(() => rows(page).count()).toBe(5);
    await search.fill(sha);
    await search.press('Enter');
    await expect.poll(() => page.locator('tr.job-row td.engine').allTextContents()).toEqual(['echo', 'echo']);
    expect(page.url()).toContain(`sha256=${sha}`);

    const id = (await page.locator('tr.job-row').first().getAttribute('data-job-id'))!;
    await search.fill(id);
    await search.press('Enter');
    await page.locator('.job-head h1').waitFor();
    expect(page.url()).toContain(`#/jobs/${id}`);
  });

  it('limits the list to jobs submitted within a time', async () => {
    // The clock belongs to the browser context: a context of its own keeps the others on real time.
    const laterContext = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    const later = await laterContext.newPage();
    watch(later);
    // Two hours from now: every job is older than "last hour", none older than "last 24 h".
    await later.clock.setFixedTime(Date.now() + 2 * 3_600_000);
    await later.goto(`${svc.url}/console/#/jobs?since=1h`);
    await later.locator('tr.empty-row', { hasText: 'No jobs match' }).waitFor();
    expect(await later.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await later.getByLabel('submitted within').selectOption('24h');
    await expect.poll(() => rows(later).count()).toBe(5);
    await laterContext.close();
  });

  it('pages through the list with older and newer', async () => {
    await page.goto(`${svc.url}/console/#/jobs?limit=3`);
    await expect.poll(() => rows(page).count()).toBe(3);
    const ids = () => rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-job-id')));
    const first = await ids();
    await page.getByRole('button', { name: 'Older →' }).click();
    await expect.poll(() => rows(page).count()).toBe(2);
    expect(first).not.toContain((await ids())[0]);
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await expect.poll(ids).toEqual(first);
    expect(await page.getByRole('button', { name: '← Newer' }).isDisabled()).toBe(true);
  });

  it('shows each engine with its digest and its security policy in plain words', async () => {
    await page.goto(`${svc.url}/console/#/engines`);
    const echo = page.locator('article.engine[data-engine="echo"]');
    await echo.waitFor();
    expect(await echo.locator('.engine-facts').textContent()).toMatch(/testkit@sha256:[0-9a-f]{64}/);
    const policy = async (key: string) =>
      (await echo.locator(`.policy-list li[data-key="${key}"] .policy-value`).textContent())?.trim();
    expect(await policy('network')).toBe('none');
    expect(await policy('readOnlyRootfs')).toBe('read-only');
    expect(await policy('capabilities')).toBe('all dropped');
    expect(await policy('memoryBytes')).toBe('512 MiB');
    expect(await policy('timeoutSeconds')).toBe('30 s');
    expect(await echo.locator('.hardened-note').textContent()).toContain('nothing loosened');
    await shot(page, 'engines');

    expect(await policy('seccomp')).toBe("Menagerie's (stricter)");

    const loose = page.locator('article.engine[data-engine="loose"]');
    expect(await loose.locator('.loosenings strong').textContent()).toBe(
      '2 loosenings of the default hardening',
    );
    expect(
      await loose
        .locator('.policy-list li.level-warn')
        .evaluateAll((lis) => lis.map((li) => li.getAttribute('data-key'))),
    ).toEqual(['readOnlyRootfs', 'seccomp']);

    // A job's engine link lands on that engine's card.
    await page.goto(`${svc.url}/console/#/engines/exit3`);
    await page.locator('article.engine.focused[data-engine="exit3"]').waitFor();
  });

  it('takes several dropped files to several engines at once', async () => {
    await page.goto(`${svc.url}/console/#/submit`);
    await page.locator('input[name=engine][value=ok]').check();
    await page.locator('input[name=engine][value=echo]').check();
    const dataTransfer = await page.evaluateHandle(`(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['alpha'], 'one.txt', { type: 'text/plain' }));
      transfer.items.add(new File(['beta!'], 'two.txt', { type: 'text/plain' }));
      return transfer;
    })()`);
    await page.dispatchEvent('label.dropzone', 'drop', { dataTransfer });
    expect(await page.locator('.file-list .file-name').allTextContents()).toEqual(['one.txt', 'two.txt']);
    await page.getByRole('button', { name: 'Submit 2 files to 2 engines (4 jobs)' }).click();
    await expect.poll(() => page.locator('.uploads li.ok', { hasText: '2 jobs created' }).count()).toBe(2);
    await expect
      .poll(() => page.locator('.followed tr.job-row .badge').allTextContents(), { timeout: 30_000 })
      .toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  });

  it('says why the service refused an upload', async () => {
    // A fresh submit page (the previous test left this one with engines ticked).
    await page.goto(`${svc.url}/console/#/jobs`);
    await page.goto(`${svc.url}/console/#/submit`);
    await page.locator('input[name=engine][value=ok]').check();
    await page
      .locator('#submit-files')
      .setInputFiles({ name: 'refused.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
    // No callback allowlist is configured here, so any webhook URL is refused before anything is stored.
    await page.getByText('Options').click();
    await page.locator('input[name=callback]').fill('http://127.0.0.1:9/hook');
    await page.getByRole('button', { name: /Submit 1 file to 1 engine/ }).click();
    const item = page.locator('.uploads li.failed', { hasText: 'refused.txt' });
    await item.waitFor();
    expect(await item.textContent()).toMatch(/callback|allow/i);
    // The browser logs the refused request itself as a console error: expected here, and only here.
    const logged = problems.findIndex((p) => p.includes('status of 400'));
    expect(logged).toBeGreaterThanOrEqual(0);
    problems.splice(logged, 1);
  });

  it('draws the last hour as charts', async () => {
    await page.goto(`${svc.url}/console/#/activity`);
    await page.locator('svg.chart rect.fill-succeeded').first().waitFor();
    expect(await page.locator('svg.chart .engine-row .row-label').allTextContents()).toEqual(
      expect.arrayContaining(['echo', 'exit3', 'ok']),
    );
    await shot(page, 'activity');
  });

  it('works with auth required: a 401 asks for the token, which then goes with every call', async () => {
    // A second service on the same engines, with auth required and one read/submit token.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'menagerie-console-auth-'));
    const token = await createToken(dataDir);
    const secured = await startTestService({ engines: enginesFile, dataDir, flags: { auth: 'required' } });
    try {
      const authed = await context.newPage();
      // The first calls answer 401, which the browser logs as console errors: expected here.
      watch(authed, { consoleErrors: false });
      const seen: { url: string; authorization: string | undefined }[] = [];
      authed.on('request', (request) =>
        seen.push({ url: request.url(), authorization: request.headers()['authorization'] }),
      );
      await authed.goto(`${secured.url}/console/#/engines`);
      await authed.locator('#token-dialog[open]').waitFor();
      await authed.locator('#token-input').fill(token);
      await authed.getByRole('button', { name: 'Use token' }).click();
      await authed.locator('article.engine[data-engine="echo"]').waitFor();
      await expect.poll(() => authed.locator('#live').textContent()).toBe('live');
      expect(await authed.evaluate("sessionStorage.getItem('menagerie.token')")).toBe(token);
      const later = seen.filter((s) => s.url.includes('/api/v1/') && !s.url.includes('/api/v1/events'));
      expect(later.at(-1)?.authorization).toBe(`Bearer ${token}`);
      expect(seen.some((s) => s.url.includes(`/api/v1/events?access_token=${token}`))).toBe(true);
      await authed.close();
    } finally {
      const workerId = secured.workerId;
      await secured.stop();
      await rm(dataDir, { recursive: true, force: true });
      expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
    }
  });

  it('runs under a strict content security policy that refuses inline script', async () => {
    const probe = await context.newPage();
    // The refusal is logged by the browser as a console error, on purpose here.
    watch(probe, { consoleErrors: false });
    await probe.goto(`${svc.url}/console/#/jobs`);
    await rows(probe).first().waitFor();
    const ranInline = await probe.evaluate(`(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.body.append(script);
      return window.__inlineRan === true;
    })()`);
    expect(ranInline).toBe(false);
    await probe.close();
  });

  it('ran without script errors, CSP violations or dialogs', () => {
    expect(problems).toEqual([]);
  });
});
