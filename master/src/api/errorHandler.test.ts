import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, isConnectionFailure } from '../db/database';
import { errorHandler } from './errorHandler';

describe('database faults at the API edge', () => {
  it('answers 503 UNAVAILABLE with Retry-After when the database is unreachable, and 500 for a bug', async () => {
    const app = Fastify();
    app.setErrorHandler(errorHandler(1 << 20, 3));
    app.get('/down', async () => {
      throw new DatabaseUnavailableError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
    });
    app.get('/bug', async () => {
      throw new TypeError('x is undefined');
    });
    const down = await app.inject({ method: 'GET', url: '/down' });
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('3');
    expect(down.json()).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringContaining('the database is unavailable (terminating connection') } });
    const bug = await app.inject({ method: 'GET', url: '/bug' });
    expect(bug.statusCode).toBe(500);
    expect(bug.headers['retry-after']).toBeUndefined();
    await app.close();
  });

  it('tells connection failures from other database errors', () => {
    const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(isConnectionFailure(pgError('ECONNREFUSED'))).toBe(true);
    expect(isConnectionFailure(pgError('57P01'))).toBe(true); // admin shutdown (pg_terminate_backend)
    expect(isConnectionFailure(pgError('08006'))).toBe(true);
    expect(isConnectionFailure(pgError('55000', 'database "x" is not currently accepting connections'))).toBe(true);
    expect(isConnectionFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionFailure(pgError('23505', 'duplicate key value violates unique constraint'))).toBe(false);
    expect(isConnectionFailure(pgError('42P01', 'relation "x" does not exist'))).toBe(false);
    expect(isConnectionFailure(pgError('55000', 'cannot refresh materialized view'))).toBe(false);
  });
});
