import { open } from 'node:fs/promises';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes as text, when they are text: UTF-8 with no NUL. A character cut
 * at the end of the buffer is dropped. Null for binary data.
 */
export function asText(bytes: Buffer): string | null {
  if (bytes.includes(0)) return null;
  for (let cut = 0; cut <= 3 && cut <= bytes.length; cut++) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - cut));
    } catch {
      // A multi-byte character may be cut by the cap: try a shorter buffer.
    }
  }
  return null;
}

/** The first `maxBytes` of a file as text, or null when binary. */
export async function textHead(filePath: string, maxBytes: number): Promise<string | null> {
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return asText(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Summary text made safe to show: no control characters but newline and tab, trimmed. */
export function cleanSummary(text: string | null, maxChars: number): string | null {
  if (text === null) return null;
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trimEnd();
  if (clean === '') return null;
  return clean.length > maxChars ? clean.slice(0, maxChars) : clean;
}
