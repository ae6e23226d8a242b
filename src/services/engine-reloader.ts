import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { parseEnginesConfig } from '../config/engines-config.js';
import type { EngineDefaults } from '../config/schema.js';
import type { EngineRegistry } from './engine-registry.js';

export type ReloadResult =
  | { readonly ok: true; readonly engines: string[]; readonly at: Date }
  | { readonly ok: false; readonly error: string; readonly at: Date };

/** Quiet time after a change to engines.json before it is read, ms (editors write in steps). */
const settleMs = 300;

/**
 * Applies engines.json without a restart: on a file change, SIGHUP or an admin
 * call. A file that does not load keeps the engines in force and is reported.
 */
export class EngineReloader {
  private last: ReloadResult | null = null;
  private pending: Promise<ReloadResult> | null = null;

  constructor(
    private readonly deps: {
      file: string;
      defaults: EngineDefaults;
      registry: EngineRegistry;
      /** Called after the registry changed (the worker pool reconciles). */
      onChange: () => void;
      logger: Logger;
    },
  ) {}

  /** The outcome of the last reload, null before the first. */
  get lastResult(): ReloadResult | null {
    return this.last;
  }

  /** Reads engines.json and applies it; reloads asked for while one runs share it. */
  reload(): Promise<ReloadResult> {
    this.pending ??= this.apply().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async apply(): Promise<ReloadResult> {
    const { file, defaults, registry, logger } = this.deps;
    try {
      const engines = parseEnginesConfig(await readFile(file, 'utf8'), defaults, file);
      registry.replace(engines);
      this.deps.onChange();
      this.last = { ok: true, engines: engines.map((e) => e.name), at: new Date() };
      logger.info({ engines: this.last.engines }, 'engines reloaded');
    } catch (error) {
      this.last = { ok: false, error: (error as Error).message, at: new Date() };
      logger.error({ error: this.last.error }, 'engines.json not applied; the engines in force stay');
    }
    return this.last;
  }

  /** Watches engines.json (through its directory, since editors replace the file). @returns stop */
  watch(): () => void {
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher;
    try {
      watcher = watch(path.dirname(this.deps.file), (_event, name) => {
        if (name !== path.basename(this.deps.file)) return;
        clearTimeout(timer);
        timer = setTimeout(() => void this.reload(), settleMs);
      });
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'cannot watch engines.json; reload with SIGHUP or the API');
      return () => undefined;
    }
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }
}
