import { describe, expect, it } from 'vitest';
import { isJobId, newJobId } from './job.js';

describe('newJobId', () => {
  it('makes distinct 22-character ids that never begin like a command-line option', () => {
    const ids = Array.from({ length: 20_000 }, () => newJobId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(isJobId(id)).toBe(true);
      expect(id).toMatch(/^[A-Za-z0-9]/);
    }
    // Every other character is still drawn from the whole base64url alphabet.
    expect(ids.some((id) => id.slice(1).includes('-'))).toBe(true);
    expect(ids.some((id) => id.slice(1).includes('_'))).toBe(true);
  });
});
