import type { FastifyRequest } from 'fastify';
import { MenagerieError, isMenagerieError } from '../domain/index.js';
import type { EngineRegistry } from '../services/engine-registry.js';
import { assertMaySubmit, principalOf } from './plugins/auth.js';
import type { JobService, StagedInput } from '../services/job-service.js';

export interface ReceivedUpload {
  readonly staged: StagedInput;
  readonly fileName: string | undefined;
  readonly engines: string[];
  /** Values of the other text fields asked for, by name (the last one wins). */
  readonly fields: Record<string, string>;
}

/** Errors of the multipart parser that mean the client sent a broken body. */
function isClientMultipartError(error: unknown): boolean {
  const e = error as { code?: string; message?: string; statusCode?: number };
  if (typeof e.code === 'string' && e.code.startsWith('FST_') && (e.statusCode ?? 500) < 500) return true;
  return /multipart|boundary|Unexpected end of form|Malformed part header|part terminated/i.test(
    e.message ?? '',
  );
}

/**
 * Reads a multipart upload: engine names from `engineField` (when given) and
 * exactly one file from `fileField`, streamed straight into the blob store.
 * Engines named before the file set its size limit while it streams; after
 * it, the limit is checked once the names are known.
 */
export async function receiveUpload(
  request: FastifyRequest,
  options: {
    fileField: string;
    engineField?: string;
    engines: string[];
    /** Other text fields to collect. */
    fields?: readonly string[];
    /** Checks a collected field as it arrives, before the file is stored; throws to refuse. */
    checkField?: (name: string, value: string) => void;
    registry: EngineRegistry;
    service: JobService;
  },
): Promise<ReceivedUpload> {
  if (!request.isMultipart()) {
    throw new MenagerieError(
      'UNSUPPORTED_MEDIA_TYPE',
      `send the file as multipart/form-data in field "${options.fileField}" (for example: curl -F ${options.fileField}=@file)`,
    );
  }
  const engines = [...options.engines];
  // Before any byte is stored: disk watermark, the token's engines, queue caps.
  const principal = principalOf(request);
  const admission = request.server.admission;
  const admit = async (names: readonly string[]): Promise<void> => {
    for (const name of names) options.registry.get(name);
    assertMaySubmit(principal, names);
    await admission?.checkQueues(names);
  };
  // The parser is attached before the checks wait on the disk and the database, so the
  // end of a short (or truncated) body is not missed while they run.
  const parts = request.parts();
  await admission?.checkDisk();
  await admit(engines);
  let staged: StagedInput | undefined;
  let fileName: string | undefined;
  const fields: Record<string, string> = {};
  try {
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== options.fileField) {
          part.file.resume();
          throw new MenagerieError(
            'UPLOAD_MISSING_FILE',
            `unexpected file field "${part.fieldname.slice(0, 64)}"; send the file in field "${options.fileField}"`,
          );
        }
        if (staged) {
          part.file.resume();
          throw new MenagerieError(
            'VALIDATION_FAILED',
            `send exactly one file in field "${options.fileField}"`,
          );
        }
        await admit(engines);
        const known = engines.map((name) => options.registry.get(name));
        const limit = known.length
          ? Math.min(...known.map((e) => e.sizeLimitBytes))
          : options.registry.maxSizeLimitBytes();
        const owner = known.length
          ? known.reduce((a, b) => (a.sizeLimitBytes <= b.sizeLimitBytes ? a : b)).name
          : undefined;
        // The parser drops (destroys) the file stream of a body that ended early; the
        // checks above may have waited past that, so look before streaming it.
        if (part.file.destroyed)
          throw new MenagerieError(
            'MALFORMED_MULTIPART',
            'the multipart body ended before the file did; resend it whole',
          );
        staged = await options.service.stageInput(part.file, limit, owner);
        fileName = part.filename;
      } else if (options.engineField && part.fieldname === options.engineField) {
        engines.push(String(part.value));
      } else if (options.fields?.includes(part.fieldname)) {
        const value = String(part.value);
        options.checkField?.(part.fieldname, value);
        fields[part.fieldname] = value;
      }
    }
  } catch (error) {
    await staged?.abort();
    if (isMenagerieError(error)) throw error;
    if (isClientMultipartError(error)) {
      throw new MenagerieError(
        'MALFORMED_MULTIPART',
        `the multipart body is malformed (${(error as Error).message}); resend it whole`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  if (staged && engines.length > options.engines.length) {
    // Engines named after the file: checked now, and the stored file dropped if refused.
    try {
      await admit(engines);
    } catch (error) {
      await staged.abort();
      throw error;
    }
  }
  if (!staged) {
    throw new MenagerieError(
      'UPLOAD_MISSING_FILE',
      `no file in multipart field "${options.fileField}"; send one (for example: curl -F ${options.fileField}=@file)`,
    );
  }
  return { staged, fileName, engines, fields };
}
