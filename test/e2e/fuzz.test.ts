// Every POST/PATCH route of the master, fed random and malformed JSON (wrong types, huge strings, deep nesting,
// nulls), as a signed-in user and with a task token: never a 5xx, and the master keeps serving.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type Master } from '../../master/src/server';
import { api, signIn, TEST_ADMIN_PASSWORD, tmpDir, tokenFor } from '../helpers/processes';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const BODIES_PER_ROUTE = Number(process.env.FUZZ_BODIES ?? 120);

describe('fuzzing the write routes', () => {
  let master: Master;
  let user: string;
  let task: string;
  let trialId = 1;
  let experimentId = 1;
  let allocationId = 'none';

  beforeAll(async () => {
    master = await startMaster({ port: 0, dataDir: tmpDir('fuzz'), logLevel: 'fatal', adminPassword: TEST_ADMIN_PASSWORD, maxContextBytes: 1024 * 1024 });
    user = await signIn(master.url);
    const created = await api<{ id: number }>(master.url, 'POST', '/experiments', {
      config: 'entrypoint: m.ts:t\nsearcher: {name: single, metric: loss, max_length: 10}\n',
    });
    experimentId = created.body.id;
    master.ctx.rm.requestPass();
    for (let i = 0; i < 100; i++) {
      const a = (await master.ctx.db.query<{ id: string; trial_id: number; token: string }>('SELECT id, trial_id, token FROM allocations LIMIT 1')).rows[0];
      if (a) {
        ({ id: allocationId, trial_id: trialId, token: task } = a);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(task).toBeDefined();
  }, 60_000);
  afterAll(async () => {
    await master?.close();
  });

  const routes = (): Array<[string, string, 'user' | 'task']> => [
    ['POST', '/auth/login', 'user'],
    ['POST', '/users', 'user'],
    ['PATCH', '/users/admin2', 'user'],
    ['POST', '/users/me/password', 'user'],
    ['POST', '/tokens', 'user'],
    ['POST', '/experiments', 'user'],
    ['PATCH', `/experiments/${experimentId}`, 'user'],
    ['POST', `/experiments/${experimentId}/pause`, 'user'],
    ['POST', `/trials/${trialId}/metrics`, 'task'],
    ['POST', `/trials/${trialId}/logs`, 'task'],
    ['POST', `/trials/${trialId}/checkpoints`, 'task'],
    ['POST', `/trials/${trialId}/searcher/completed_operation`, 'task'],
    ['POST', `/trials/${trialId}/searcher/progress`, 'task'],
    ['POST', `/allocations/${allocationId}/rendezvous`, 'task'],
  ];

  /** Bodies: arbitrary JSON, JSON-shaped objects with the routes' own field names, and text that is not JSON. */
  const bodyArb = fc.oneof(
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
    fc
      .dictionary(
        fc.constantFrom('config', 'context', 'group', 'points', 'lines', 'uuid', 'stepsCompleted', 'resources', 'length', 'metric', 'rank', 'address', 'username', 'password', 'priority', 'weight', 'max_slots', 'description', 'expiresInSeconds', 'admin', 'active', 'oldPassword', 'newPassword'),
        fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.string({ maxLength: 100_000 }), fc.double(), fc.constant(null), fc.constant(1e308), fc.constant(-1)),
      )
      .map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 2000 }),
    fc.constant('['.repeat(5000) + ']'.repeat(5000)),
    fc.constant('{"a":' + '{"a":'.repeat(2000) + '1' + '}'.repeat(2001)),
  );

  it(`answers ${BODIES_PER_ROUTE} random bodies per route without a 5xx (seed ${SEED}; FUZZ_SEED to replay)`, async () => {
    const bodies = fc.sample(bodyArb, { seed: SEED, numRuns: BODIES_PER_ROUTE });
    const failures: string[] = [];
    for (const [method, path, who] of routes()) {
      for (const body of bodies) {
        const token = who === 'task' ? task : user;
        const r = await fetch(`${master.url}/api/v1${path}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
        const text = await r.text();
        if (r.status >= 500) failures.push(`${method} ${path} ${r.status} ${text.slice(0, 200)} <- ${body.slice(0, 200)}`);
        else expect(() => JSON.parse(text || '{}')).not.toThrow();
      }
    }
    expect(failures).toEqual([]);
    expect((await api(master.url, 'GET', '/experiments')).status).toBe(200);
    expect(tokenFor(master.url)).toBe(user);
  }, 240_000);
});
