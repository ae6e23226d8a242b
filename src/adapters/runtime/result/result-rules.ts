/**
 * Rules for results copied out of a container. A result is untrusted input:
 * only regular files and directories pass, names are plain, and the whole is
 * capped. The first violation rejects the result; nothing is followed.
 */

export interface ResultLimits {
  /** Most bytes of file content in the result. */
  readonly maxBytes: number;
  /** Most files and directories in a directory result. */
  readonly maxEntries: number;
  /** Deepest nesting of a directory result. */
  readonly maxDepth: number;
}

export const defaultResultLimits: Omit<ResultLimits, 'maxBytes'> = { maxEntries: 100_000, maxDepth: 64 };

/** Raised inside collectors; its message becomes the job's reason. */
export class ResultRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResultRejected';
  }
}

// Control characters (newline among them) make names that lie in listings and logs.
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/;

/** Shows a hostile name safely in a reason. */
export function printable(name: string): string {
  return JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name);
}

/** Checks one path component. */
export function checkName(component: string, shownPath: string): void {
  if (component === '' || component === '.' || component === '..') {
    throw new ResultRejected(
      `result entry ${printable(shownPath)} has a "${component || '(empty)'}" path component`,
    );
  }
  if (component.includes('/') || component.includes('\\')) {
    throw new ResultRejected(`result entry ${printable(shownPath)} has a separator in its name`);
  }
  if (controlCharacters.test(component)) {
    throw new ResultRejected(
      `result entry ${printable(shownPath)} has a control character (such as a newline) in its name`,
    );
  }
  if (Buffer.byteLength(component) > 255) {
    throw new ResultRejected(`result entry ${printable(shownPath)} has a name longer than 255 bytes`);
  }
}

/** Counts entries and bytes against the limits as a collector walks. */
export class ResultBudget {
  private entries = 0;
  private bytes = 0;

  constructor(readonly limits: ResultLimits) {}

  addEntry(shownPath: string, depth: number): void {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) {
      throw new ResultRejected(`result has more than ${this.limits.maxEntries} entries`);
    }
    if (depth > this.limits.maxDepth) {
      throw new ResultRejected(
        `result entry ${printable(shownPath)} is nested deeper than ${this.limits.maxDepth} levels`,
      );
    }
  }

  addBytes(count: number): void {
    this.bytes += count;
    if (this.bytes > this.limits.maxBytes) {
      throw new ResultRejected(`result too large (more than ${formatBytes(this.limits.maxBytes)})`);
    }
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2) return `${Math.round((bytes / 1024 ** 2) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}
