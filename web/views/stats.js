// Figures computed in the browser from the most recent jobs (one page of up to 500).

import { api } from '../api.js';

export const RECENT_LIMIT = 500;
export const HOUR_MS = 60 * 60 * 1000;

/** The most recent jobs, newest first, as a Map by id (so live events can be merged in). */
export async function recentJobs() {
  const { jobs } = await api.jobs({ limit: RECENT_LIMIT });
  return new Map(jobs.map((job) => [job.id, job]));
}

/** The q-quantile (0..1) of sorted numbers, linear between ranks; null when empty. */
export function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Per engine, over jobs submitted in the last hour: count, finished, success rate, median duration. */
export function engineStats(jobs, now = Date.now()) {
  const byEngine = new Map();
  for (const job of jobs) {
    if (now - new Date(job.createdAt).getTime() > HOUR_MS) continue;
    let s = byEngine.get(job.engine);
    if (!s) byEngine.set(job.engine, (s = { total: 0, finished: 0, succeeded: 0, durations: [] }));
    s.total += 1;
    if (['succeeded', 'failed', 'cancelled'].includes(job.state)) s.finished += 1;
    if (job.state === 'succeeded') s.succeeded += 1;
    if (job.durationMs !== null) s.durations.push(job.durationMs);
  }
  for (const s of byEngine.values()) {
    s.durations.sort((a, b) => a - b);
    s.medianMs = quantile(s.durations, 0.5);
    s.successRate = s.finished ? s.succeeded / s.finished : null;
  }
  return byEngine;
}
