/**
 * The error catalogue. Every error that leaves the service carries a stable
 * code, an HTTP status and a message that says what failed and what to do.
 */

export interface ErrorDefinition {
  readonly status: number;
  readonly title: string;
}

export const errorCatalogue = {
  VALIDATION_FAILED: { status: 400, title: 'The request does not match what this route accepts.' },
  MALFORMED_MULTIPART: { status: 400, title: 'The multipart body could not be parsed.' },
  UPLOAD_MISSING_FILE: { status: 400, title: 'The multipart body holds no file in the expected field.' },
  CALLBACK_NOT_ALLOWED: {
    status: 400,
    title: "The callback URL is not under one of the operator's allowed prefixes.",
  },
  ENGINE_MISSING: { status: 400, title: 'No engine was named for the submission.' },
  INVALID_JOB_ID: { status: 400, title: 'The job id is not of the form the service issues.' },
  INVALID_CURSOR: { status: 400, title: 'The paging cursor is not one the service issued.' },
  MALFORMED_REQUEST: { status: 400, title: 'The request is not valid HTTP/1.1 (answered before routing).' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request (headers or body) did not arrive in time.' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request head is larger than the server accepts.' },
  UNAUTHORIZED: {
    status: 401,
    title: 'The request carries no valid token (missing, unknown, expired or revoked).',
  },
  FORBIDDEN: { status: 403, title: "The token's scopes or engines do not allow this request." },
  TOKEN_NOT_FOUND: { status: 404, title: 'No live token has that name.' },
  TOKEN_EXISTS: { status: 409, title: 'A token of that name exists (names are never reused).' },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many requests from this token or address; retry after the given delay.',
  },
  QUEUE_FULL: { status: 429, title: "The engine's queue is at its cap; retry after the given delay." },
  INSUFFICIENT_STORAGE: { status: 507, title: 'The data directory is below its free-space watermark.' },
  ENGINE_NOT_FOUND: { status: 404, title: 'No engine of that name is configured.' },
  JOB_NOT_FOUND: { status: 404, title: 'No job has that id.' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No route matches the method and path.' },
  RESULT_NOT_AVAILABLE: { status: 404, title: 'The job has no result.' },
  RESULT_NOT_READY: { status: 409, title: 'The job has not finished yet.' },
  RESULT_PURGED: { status: 410, title: "Retention deleted the job's files." },
  JOB_ALREADY_FINISHED: { status: 409, title: 'The job has already reached a final state.' },
  ENGINES_CONFIG_REJECTED: {
    status: 422,
    title: 'engines.json does not load; the engines in force stay.',
  },
  UPLOAD_TOO_LARGE: { status: 413, title: "The upload exceeds the engine's size limit." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body is not of a type this route accepts.' },
  NOT_READY: { status: 503, title: 'A backend the service depends on does not answer.' },
  INTERNAL: { status: 500, title: 'An unexpected error occurred inside the service.' },
  CONFIG_INVALID: { status: 500, title: 'The configuration is invalid.' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error with a stable code from the catalogue. */
export class MenagerieError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds after which the client may try again (sent as `Retry-After`); for 429 and 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.name = 'MenagerieError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

export function isMenagerieError(error: unknown): error is MenagerieError {
  return error instanceof MenagerieError;
}

/**
 * A failure that must not be retried: the job's input or engine is at fault,
 * so running it again gives the same answer.
 */
export class PermanentJobFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobFailure';
  }
}
