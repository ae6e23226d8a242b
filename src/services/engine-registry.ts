import type { EngineSpec } from '../domain/index.js';
import { MenagerieError } from '../domain/index.js';

/** The engines in force. Lookups by name; the set can be swapped whole (reload). */
export class EngineRegistry {
  private byName = new Map<string, EngineSpec>();

  constructor(engines: readonly EngineSpec[]) {
    this.replace(engines);
  }

  replace(engines: readonly EngineSpec[]): void {
    this.byName = new Map(engines.map((e) => [e.name, e]));
  }

  list(): EngineSpec[] {
    return [...this.byName.values()];
  }

  find(name: string): EngineSpec | undefined {
    return this.byName.get(name);
  }

  /** @throws MenagerieError ENGINE_NOT_FOUND naming the engines there are. */
  get(name: string): EngineSpec {
    const engine = this.byName.get(name);
    if (!engine) {
      const known = [...this.byName.keys()];
      throw new MenagerieError(
        'ENGINE_NOT_FOUND',
        `no engine named ${JSON.stringify(name.slice(0, 64))}; configured engines: ${known.length ? known.join(', ') : '(none)'}`,
      );
    }
    return engine;
  }

  /** The largest upload any engine accepts, bytes. */
  maxSizeLimitBytes(): number {
    return Math.max(0, ...this.list().map((e) => e.sizeLimitBytes));
  }
}
