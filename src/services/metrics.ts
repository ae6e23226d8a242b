import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const durationBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

/** The service's Prometheus metrics, on a registry of its own (no global state). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'menagerie_process_' });
  return {
    registry,
    jobsSubmitted: new Counter({
      name: 'menagerie_jobs_submitted_total',
      help: 'Jobs accepted, by engine.',
      labelNames: ['engine'],
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: 'menagerie_jobs_finished_total',
      help: 'Jobs that reached a final state, by engine and state.',
      labelNames: ['engine', 'state'],
      registers: [registry],
    }),
    waitSeconds: new Histogram({
      name: 'menagerie_job_wait_seconds',
      help: 'Time from submission to the container starting, by engine.',
      labelNames: ['engine'],
      buckets: durationBuckets,
      registers: [registry],
    }),
    runSeconds: new Histogram({
      name: 'menagerie_job_run_seconds',
      help: 'Time the container ran, by engine.',
      labelNames: ['engine'],
      buckets: durationBuckets,
      registers: [registry],
    }),
    containerStartSeconds: new Histogram({
      name: 'menagerie_container_start_seconds',
      help: 'Time from claiming a job to its container running (filesystem, create, start).',
      labelNames: ['engine'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    uploadBytes: new Counter({
      name: 'menagerie_upload_bytes_total',
      help: 'Bytes of input accepted.',
      registers: [registry],
    }),
    activeWorkers: new Gauge({
      name: 'menagerie_active_workers',
      help: 'Jobs running on this node now, by engine.',
      labelNames: ['engine'],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'menagerie_queue_depth',
      help: 'Messages waiting (ready) or being worked on (unacked), by engine.',
      labelNames: ['engine', 'status'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
