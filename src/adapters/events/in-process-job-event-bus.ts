import type { JobEventBus } from '../../ports/job-event-bus.js';

/**
 * One process serves and runs every job (or nothing listens): JobEvents already
 * reaches every listener, so there is nothing to carry.
 */
export class InProcessJobEventBus implements JobEventBus {
  publish(): void {}

  subscribe(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {}
}
