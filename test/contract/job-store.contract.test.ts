import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServers } from './backends.js';
import type { KyselyJobStore } from '../../src/adapters/store/sql/kysely-job-store.js';
import { endedWithoutRun, newJobId, type JobOutcome } from '../../src/domain/index.js';
import type { JobChange, NewJob } from '../../src/ports/job-store.js';
import { openScratchStore, storeKinds } from './backends.js';

function sha(): string {
  return randomBytes(32).toString('hex');
}

function newJobs(engine: string, count: number, t0 = Date.now()): NewJob[] {
  return Array.from({ length: count }, (_, i) => ({
    id: newJobId(),
    engine,
    input: { name: `sample-${i}.bin`, size: 1000 + i, sha256: sha() },
    createdAt: new Date(t0 + i),
  }));
}

function outcome(state: JobOutcome['state'], summary: string): JobOutcome {
  return {
    state,
    reason: state === 'succeeded' ? null : `ended ${summary}`,
    exitCode: state === 'succeeded' ? 0 : 3,
    imageDigest: 'sha256:' + 'a'.repeat(64),
    summary,
    result: { kind: 'file', size: 42 },
    usage: { peakMemoryBytes: 5_000_000_000, cpuMs: 1234 },
    stdoutBytes: 10,
    stderrBytes: 0,
    logsTruncated: false,
    finishedAt: new Date(),
  };
}

useTestServers('shared');

describe.each(storeKinds)('JobStore contract: %s', (kind) => {
  let store: KyselyJobStore;
  let close: () => Promise<void>;
  const engine = (): string => `e-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    ({ store, close } = await openScratchStore(kind));
  });
  afterAll(async () => {
    await close?.();
  });

  it('migrates again without harm and answers ping', async () => {
    await store.migrate();
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('stores a job and reads it back as queued', async () => {
    const [job] = newJobs(engine(), 1);
    await store.insertJobs([job!]);
    const got = await store.getJob(job!.id);
    expect(got).toMatchObject({
      id: job!.id,
      engine: job!.engine,
      state: 'queued',
      input: job!.input,
      attempts: 0,
      result: null,
      workerId: null,
      startedAt: null,
      finishedAt: null,
      logsTruncated: false,
    });
    expect(got!.createdAt.getTime()).toBe(job!.createdAt.getTime());
    expect(await store.getJob(newJobId())).toBeUndefined();
  });

  it('rejects a second job with the same id', async () => {
    const [job] = newJobs(engine(), 1);
    await store.insertJobs([job!]);
    await expect(store.insertJobs([job!])).rejects.toThrow();
  });

  it('lists newest first, pages with a cursor and filters', async () => {
    const name = engine();
    const jobs = newJobs(name, 7);
    await store.insertJobs(jobs);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await store.listJobs({ engine: name }, cursor, 3);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(jobs.map((j) => j.id).reverse());

    await store.markRunning(jobs[1]!.id, 'w-1', 1, new Date());
    const running = await store.listJobs({ engine: name, state: 'running' }, null, 10);
    expect(running.jobs.map((j) => j.id)).toEqual([jobs[1]!.id]);
    const bySha = await store.listJobs({ sha256: jobs[4]!.input.sha256.toUpperCase() }, null, 10);
    expect(bySha.jobs.map((j) => j.id)).toEqual([jobs[4]!.id]);
    const none = await store.listJobs({ engine: name, state: 'cancelled' }, null, 10);
    expect(none).toEqual({ jobs: [], nextCursor: null });
  });

  it('refuses a cursor it did not issue', async () => {
    await expect(store.listJobs({}, 'bm90LWEtY3Vyc29y', 10)).rejects.toMatchObject({
      code: 'INVALID_CURSOR',
    });
  });

  it('keeps the outbox: unenqueued jobs until marked', async () => {
    const name = engine();
    const jobs = newJobs(name, 3, Date.now() - 60_000);
    await store.insertJobs(jobs);
    await store.markEnqueued([jobs[0]!.id]);
    const pending = (await store.listUnenqueued(new Date(), 1000)).filter((j) => j.engine === name);
    expect(pending.map((j) => j.id)).toEqual([jobs[1]!.id, jobs[2]!.id]);
    const older = (await store.listUnenqueued(new Date(Date.now() - 120_000), 1000)).filter(
      (j) => j.engine === name,
    );
    expect(older).toEqual([]);
  });

  it('marks a live job running and refuses a final one', async () => {
    const [job] = newJobs(engine(), 1);
    await store.insertJobs([job!]);
    const startedAt = new Date();
    expect(await store.markRunning(job!.id, 'w-a', 2, startedAt)).toBe(true);
    expect(await store.getJob(job!.id)).toMatchObject({
      state: 'running',
      workerId: 'w-a',
      attempts: 2,
      startedAt,
    });
    expect(await store.finishJob(job!.id, endedWithoutRun('cancelled', 'cancelled by request'))).toBe(true);
    expect(await store.markRunning(job!.id, 'w-b', 3, new Date())).toBe(false);
    expect(await store.getJob(job!.id)).toMatchObject({ state: 'cancelled', workerId: 'w-a' });
  });

  it('records a final state exactly once when many finish the same job at once', async () => {
    const jobs = newJobs(engine(), 5);
    await store.insertJobs(jobs);
    for (const job of jobs) {
      await store.markRunning(job.id, 'w-a', 1, new Date());
      const attempts = Array.from({ length: 8 }, (_, i) =>
        store.finishJob(job.id, outcome(i % 2 ? 'failed' : 'succeeded', `run ${i}`)),
      );
      const results = await Promise.all(attempts);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      const got = await store.getJob(job.id);
      expect(got).toMatchObject({
        state: winner % 2 ? 'failed' : 'succeeded',
        summary: `run ${winner}`,
        exitCode: winner % 2 ? 3 : 0,
        result: { kind: 'file', size: 42 },
        usage: { peakMemoryBytes: 5_000_000_000, cpuMs: 1234 },
        stdoutBytes: 10,
      });
      expect(got!.finishedAt).toBeInstanceOf(Date);
      expect(await store.finishJob(job.id, outcome('succeeded', 'late'))).toBe(false);
    }
  });

  it('requeues the running jobs of a lost worker and counts live jobs per engine', async () => {
    const name = engine();
    const worker = `w-${randomUUID().slice(0, 8)}`;
    const jobs = newJobs(name, 4);
    await store.insertJobs(jobs);
    await store.markRunning(jobs[0]!.id, worker, 1, new Date());
    await store.markRunning(jobs[1]!.id, worker, 1, new Date());
    await store.markRunning(jobs[2]!.id, 'w-other', 1, new Date());
    expect((await store.engineStats()).find((s) => s.engine === name)).toEqual({
      engine: name,
      queued: 1,
      running: 3,
    });
    const mine = await store.listRunningByWorker(worker);
    expect(mine.map((j) => j.id).sort()).toEqual([jobs[0]!.id, jobs[1]!.id].sort());
    for (const job of mine) await store.requeueJob(job.id);
    expect(await store.listRunningByWorker(worker)).toEqual([]);
    expect(await store.getJob(jobs[0]!.id)).toMatchObject({
      state: 'queued',
      workerId: null,
      startedAt: null,
    });
    // requeue leaves a final job alone
    await store.finishJob(jobs[3]!.id, endedWithoutRun('failed', 'no'));
    await store.requeueJob(jobs[3]!.id);
    expect(await store.getJob(jobs[3]!.id)).toMatchObject({ state: 'failed' });
    expect((await store.engineStats()).find((s) => s.engine === name)).toEqual({
      engine: name,
      queued: 2,
      running: 1,
    });
  });

  it('lists the jobs changed since a time, each once at its latest change, oldest first', async () => {
    const jobs = newJobs(engine(), 4);
    const before = new Date(Date.now() - 1);
    await store.insertJobs(jobs);
    const mine = new Set(jobs.map((j) => j.id));
    const ids = (changes: { id: string }[]): string[] =>
      changes.map((c) => c.id).filter((id) => mine.has(id));
    const inserted = await store.listChanges(before, 1000);
    expect(ids(inserted).sort()).toEqual([...mine].sort());
    for (const change of inserted)
      expect(change.changedAt.getTime()).toBeGreaterThanOrEqual(before.getTime());

    // Every change a live view shows moves the job to the end, past `since`.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const mark = new Date();
    expect(ids(await store.listChanges(mark, 1000))).toEqual([]);
    await store.markRunning(jobs[2]!.id, 'w-1', 1, new Date());
    await new Promise((resolve) => setTimeout(resolve, 2));
    await store.markRunning(jobs[0]!.id, 'w-1', 1, new Date());
    await new Promise((resolve) => setTimeout(resolve, 2));
    await store.finishJob(jobs[2]!.id, outcome('succeeded', 'ok'));
    await new Promise((resolve) => setTimeout(resolve, 2));
    await store.requeueJob(jobs[0]!.id);
    await new Promise((resolve) => setTimeout(resolve, 2));
    await store.markPurged(jobs[2]!.id, new Date());
    // markEnqueued is no visible change
    await store.markEnqueued([jobs[1]!.id]);
    const changed = await store.listChanges(mark, 1000);
    expect(ids(changed)).toEqual([jobs[0]!.id, jobs[2]!.id]);
    const times = changed.map((c) => c.changedAt.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // The limit holds, oldest first.
    const first = await store.listChanges(before, 1);
    expect(first).toHaveLength(1);
    expect(first[0]!.changedAt.getTime()).toBeLessThanOrEqual(times[0]!);
  });

  it('pages the changes by (time, id) after a cursor, past many that share one time', async () => {
    const jobs = newJobs(engine(), 5);
    const mine = new Set(jobs.map((j) => j.id));
    const ids = (changes: JobChange[]): string[] => changes.map((c) => c.id).filter((id) => mine.has(id));
    await store.insertJobs(jobs);
    // All five changes stamped in one millisecond, as a busy node's often are.
    const at = Date.now() + 60_000;
    await store.db
      .updateTable('jobs')
      .set({ changed_at: at })
      .where('id', 'in', [...mine])
      .execute();
    const since = new Date(at);
    const pages: string[][] = [];
    let after: JobChange | undefined;
    for (let page = 0; page < 10; page++) {
      const changes = await store.listChanges(since, 2, after);
      for (const change of changes) expect(change.changedAt.getTime()).toBe(at);
      pages.push(changes.map((c) => c.id));
      if (changes.length < 2) break;
      after = changes.at(-1);
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const read = pages.flat();
    expect(new Set(read)).toEqual(mine);
    expect(read).toHaveLength(mine.size);

    // A later change comes after the cursor however its id sorts; an earlier one does not.
    await store.db
      .updateTable('jobs')
      .set({ changed_at: at + 1 })
      .where('id', '=', read[0]!)
      .execute();
    await store.db
      .updateTable('jobs')
      .set({ changed_at: at - 1 })
      .where('id', '=', read[1]!)
      .execute();
    const cursor = { id: read.at(-1)!, changedAt: new Date(at) };
    expect(ids(await store.listChanges(new Date(at - 10), 10, cursor))).toEqual([read[0]]);
    expect(ids(await store.listChanges(new Date(at - 10), 10))).toEqual([read[1], ...read.slice(2), read[0]]);
  });
});
