import { describe, expect, it } from 'vitest';
import { RequestQueue } from './requestQueue';

const apiError = (code: number) => Object.assign(new Error(`HTTP-Code: ${code}`), { code });

describe('the Kubernetes request queue', () => {
  const queue = () => {
    const logs: string[] = [];
    return { q: new RequestQueue({ concurrency: 2, maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5, log: (_o, m) => logs.push(m) }), logs };
  };

  it('retries server errors and network failures until the request succeeds', async () => {
    const { q, logs } = queue();
    let calls = 0;
    q.push({ key: 'a', what: 'create', run: async () => {
      calls++;
      if (calls === 1) throw apiError(500);
      if (calls === 2) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    } });
    await q.drained();
    expect(calls).toBe(3);
    expect(logs.filter((l) => l.includes('retrying'))).toHaveLength(2);
  });

  it('gives up at once on a client error, and after maxAttempts on server errors', async () => {
    const { q, logs } = queue();
    let a = 0;
    let b = 0;
    q.push({ key: 'a', what: 'bad', run: async () => {
      a++;
      throw apiError(422);
    } });
    q.push({ key: 'b', what: 'down', run: async () => {
      b++;
      throw apiError(503);
    } });
    await q.drained();
    expect(a).toBe(1);
    expect(b).toBe(4);
    expect(logs.filter((l) => l.includes('giving up'))).toHaveLength(2);
  });

  it('a newer request with the same key replaces a waiting one', async () => {
    const { q } = queue();
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.push({ key: 'x', what: 'slow', run: () => gate });
    q.push({ key: 'y', what: 'slow', run: () => gate });
    q.push({ key: 'k', what: 'create', run: async () => void ran.push('create') });
    q.push({ key: 'k', what: 'delete', run: async () => void ran.push('delete') });
    release();
    await q.drained();
    expect(ran).toEqual(['delete']);
  });

  it('never runs two requests of one key at once: a delete pushed during its create runs after it', async () => {
    const { q } = queue();
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.push({ key: 'k', what: 'create', run: async () => {
      ran.push('create started');
      await gate;
      ran.push('create done');
    } });
    await new Promise((r) => setTimeout(r, 5));
    q.push({ key: 'k', what: 'delete', run: async () => void ran.push('delete') });
    q.push({ key: 'other', what: 'other', run: async () => void ran.push('other') });
    await new Promise((r) => setTimeout(r, 5));
    // The other key is not held up; the delete waits for the create.
    expect(ran).toEqual(['create started', 'other']);
    release();
    await q.drained();
    expect(ran).toEqual(['create started', 'other', 'create done', 'delete']);
  });
});
