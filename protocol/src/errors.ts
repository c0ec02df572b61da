// The one error model of Hone, shared by the master (which raises and maps it), the CLI, the harness and the
// web UI (which read it back). Every error answer of the master is `ErrorBody` with one of these codes, and the
// code decides the HTTP status. No I/O here: types and a small class only.

/** Error codes with their HTTP statuses. Add a code here, never a bare status elsewhere. */
export const ERROR_CODES = {
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  CONTEXT_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSATISFIABLE: 422,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The body of every error answer: `{ "error": { "code": "NOT_FOUND", "message": "experiment 7 not found" } }`. */
export interface ErrorBody {
  error: { code: ErrorCode | string; message: string; details?: unknown };
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The status that goes with a code; unknown codes are internal errors. */
export function statusOf(code: string): number {
  return isErrorCode(code) ? ERROR_CODES[code] : 500;
}

/** The code that best describes an HTTP status, for answers that did not carry one (a proxy's 502, say). */
export function codeForStatus(status: number): ErrorCode {
  if (status === 0 || status === 502 || status === 503 || status === 504) return 'UNAVAILABLE';
  for (const [code, s] of Object.entries(ERROR_CODES)) if (s === status) return code as ErrorCode;
  return status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
}

/**
 * An error with a registry code. The master throws it (its error handler turns it into `ErrorBody` and the
 * code's status); clients build it from an `ErrorBody` they received (`HoneError.fromBody`), so every process
 * sees the same code, status and message.
 */
export class HoneError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** The status as received; defaults to the code's. */
    status?: number,
  ) {
    super(message);
    this.name = 'HoneError';
    this.status = status ?? ERROR_CODES[code];
  }
  readonly status: number;

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }

  /** Reads an error answer (status plus parsed or unparsed body) into a HoneError. */
  static fromResponse(status: number, body: unknown, fallbackMessage?: string): HoneError {
    const e = (body as Partial<ErrorBody> | null | undefined)?.error;
    if (e && typeof e.message === 'string') {
      const code = isErrorCode(e.code) ? e.code : codeForStatus(status);
      return new HoneError(code, e.message, e.details, status);
    }
    return new HoneError(codeForStatus(status), fallbackMessage ?? `HTTP ${status}`, undefined, status);
  }
}

export const notFound = (what: string, id: string | number): HoneError => new HoneError('NOT_FOUND', `${what} ${id} not found`);
export const invalid = (message: string, details?: unknown): HoneError => new HoneError('INVALID_ARGUMENT', message, details);
export const conflict = (message: string): HoneError => new HoneError('CONFLICT', message);

/** WebSocket close codes the master uses on agent connections (4000-4999 are for applications). */
export const AGENT_CLOSE_CODES = {
  /** Another connection took over this agent id. */
  REPLACED: 4000,
  /** A message did not match the protocol schema (the reason names the field). */
  INVALID_MESSAGE: 4400,
  /** Missing or wrong agent token. */
  UNAUTHENTICATED: 4401,
  /** The first message was not `hello`. */
  HELLO_FIRST: 4402,
  /** A hello for a known agent id without that agent's secret (or with a wrong one). */
  CREDENTIAL_REFUSED: 4403,
} as const;
