// The master raises the shared error model of protocol/src/errors.ts; this re-export keeps imports short.
export { ERROR_CODES, HoneError, notFound, invalid, conflict, type ErrorCode } from '@hone/protocol/errors';
