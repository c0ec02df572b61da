// The master's one error handler: every error that leaves a route, ours or fastify's, becomes an ErrorBody with
// a code from the shared registry (protocol/src/errors.ts) and that code's status. Refusals of malformed
// requests are logged at warn with what was wrong; anything unexpected is an INTERNAL 500, logged at error with
// its stack, and its details never reach the client.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { codeForStatus, HoneError, type ErrorCode } from '@hone/protocol/errors';

/** fastify's own request errors, by their code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_ARGUMENT',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_ARGUMENT',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_ARGUMENT',
  FST_ERR_VALIDATION: 'INVALID_ARGUMENT',
};

/** Turns any thrown value into a HoneError; `maxBodyBytes` names the limit in the 413 message. */
export function toHoneError(err: unknown, maxBodyBytes: number): HoneError {
  if (err instanceof HoneError) return err;
  const e = err as Partial<FastifyError> & {
    validation?: Array<{ instancePath?: string; keyword?: string; message?: string; params?: { missingProperty?: string; allowedValue?: unknown } }>;
  };
  if (e.validation) {
    const first = e.validation[0];
    const where = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : (first?.params?.missingProperty ?? '');
    let message = first?.message ?? e.message;
    // A union of literals fails once per alternative: name the values that are allowed.
    if (first?.keyword === 'const') {
      const allowed = e.validation.filter((v) => v.keyword === 'const' && v.instancePath === first.instancePath).map((v) => String(v.params?.allowedValue));
      message = `must be ${allowed.length > 1 ? `one of ${allowed.join(', ')}` : allowed[0]}`;
    }
    return new HoneError('INVALID_ARGUMENT', `${e.validationContext ?? 'request'}${where ? `.${where}` : ''}: ${message}`);
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const mib = maxBodyBytes / 1048576;
    return new HoneError('PAYLOAD_TOO_LARGE', `request body is larger than the limit of ${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`);
  }
  const known = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (known) return new HoneError(known, e.message ?? known);
  if (err instanceof SyntaxError) return new HoneError('INVALID_ARGUMENT', `body: ${err.message}`);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new HoneError(codeForStatus(e.statusCode), e.message ?? 'bad request');
  return new HoneError('INTERNAL', 'internal error');
}

/**
 * `retryAfterS`: what a 503 (the database is down, say) tells the client to wait before trying again. Clients
 * that retry (the harness, the agent, the CLI's GETs) honour it.
 */
export function errorHandler(maxBodyBytes: number, retryAfterS = 2) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    let he = toHoneError(err, maxBodyBytes);
    if (he.code === 'UNSUPPORTED_MEDIA_TYPE') {
      he = new HoneError(he.code, `content type ${req.headers['content-type'] || '(none)'} is not accepted here; send application/json`);
    }
    if (he.code === 'UNAVAILABLE') {
      req.log.warn({ url: req.url, method: req.method, reason: he.message }, 'unavailable; told the client to retry');
      void reply.header('retry-after', String(retryAfterS));
    } else if (he.code === 'INTERNAL') req.log.error({ err, url: req.url, method: req.method }, 'unhandled error');
    else if (!(err instanceof HoneError)) req.log.warn({ code: he.code, url: req.url, method: req.method, reason: he.message }, 'refused a malformed request');
    return reply.status(he.status).send(he.toBody());
  };
}
