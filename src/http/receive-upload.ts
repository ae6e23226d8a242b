import type { FastifyRequest } from 'fastify';
import { MenagerieError, isMenagerieError } from '../domain/index.js';
import type { EngineRegistry } from '../services/engine-registry.js';
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
  let staged: StagedInput | undefined;
  let fileName: string | undefined;
  const fields: Record<string, string> = {};
  try {
    for await (const part of request.parts()) {
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
        const known = engines.map((name) => options.registry.get(name));
        const limit = known.length
          ? Math.min(...known.map((e) => e.sizeLimitBytes))
          : options.registry.maxSizeLimitBytes();
        const owner = known.length
          ? known.reduce((a, b) => (a.sizeLimitBytes <= b.sizeLimitBytes ? a : b)).name
          : undefined;
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
  if (!staged) {
    throw new MenagerieError(
      'UPLOAD_MISSING_FILE',
      `no file in multipart field "${options.fileField}"; send one (for example: curl -F ${options.fileField}=@file)`,
    );
  }
  return { staged, fileName, engines, fields };
}
