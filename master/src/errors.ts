// One registry of error codes with their HTTP statuses; the fastify error handler maps them.
export const ERROR_CODES = {
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CONTEXT_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSATISFIABLE: 422,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HoneError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HoneError';
  }
  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export const notFound = (what: string, id: string | number): HoneError => new HoneError('NOT_FOUND', `${what} ${id} not found`);
export const invalid = (message: string, details?: unknown): HoneError => new HoneError('INVALID_ARGUMENT', message, details);
export const conflict = (message: string): HoneError => new HoneError('CONFLICT', message);
