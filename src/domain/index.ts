/**
 * Domain of Menagerie: no I/O here.
 *
 * Glossary
 * - engine: a containerized analyzer named in engines.json (apktool, fileinfo …).
 * - job: one input file run through one engine; it is queued, then running,
 *   then reaches exactly one final state (succeeded, failed, cancelled).
 * - input: the uploaded file, stored once by its SHA-256.
 * - result: what the engine wrote to `<mountpoint>/result` (a file, or a
 *   directory archived as .tar.gz), or its stdout when it wrote none.
 * - summary: a short text about the result shown beside the status.
 * - job volume: a per-job, size-capped filesystem given to the container as
 *   a named volume at the engine's mountpoint.
 * - worker: a process slot that claims queued jobs and runs them; each worker
 *   node has a stable id that labels its containers.
 * - reason: why a job ended as it did, in words.
 */
export * from './errors.js';
export * from './job.js';
export * from './engine.js';
export * from './access.js';
