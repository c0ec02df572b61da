// What crosses into the master is checked at the edge: a malformed agent message closes that agent's socket with
// a close code from AGENT_CLOSE_CODES, a malformed request gets an ErrorBody with the right code and status, each
// refusal leaves a log line saying why, and the master keeps serving everyone else.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentInfo } from '@hone/protocol';
import { AGENT_CLOSE_CODES, ERROR_CODES, isErrorCode } from '@hone/protocol/errors';
import { startMaster, type Master } from '../../master/src/server';
import { signIn, TEST_ADMIN_PASSWORD, tmpDir, tokenFor, waitFor } from '../helpers/processes';

type LogLine = { level: number; msg: string; [k: string]: unknown };
type Answer = { status: number; body: any };

describe('boundaries of the master', () => {
  let master: Master;
  const logs: LogLine[] = [];

  beforeAll(async () => {
    // Every logger of the master (http, agents, rm) writes to this stream: read what an operator would see.
    master = await startMaster({
      port: 0,
      dataDir: tmpDir('boundaries'),
      maxContextBytes: 1024 * 1024,
      logLevel: 'warn',
      logStream: { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) },
      adminPassword: TEST_ADMIN_PASSWORD,
    });
    await signIn(master.url);
  }, 60_000);
  afterAll(async () => {
    await master?.close();
  });

  const logLine = (msg: string, says: string) =>
    waitFor(`a log line "${msg}" saying ${says}`, async () => logs.find((l) => l.level >= 40 && l.msg === msg && JSON.stringify(l).includes(says)), 3000, 20);

  describe('agent messages', () => {
    const hello = (agentId: string) => ({
      type: 'hello',
      agentId,
      resourcePool: 'default',
      hostname: 'h',
      version: 't',
      running: [],
      devices: [{ id: 0, type: 'gpu', brand: 'X', uuid: 'g0' }],
    });

    async function connect() {
      const ws = new WebSocket(master.url.replace('http', 'ws') + '/agents');
      const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return { ws, closed };
    }
    const agents = async () => {
      const r = await fetch(`${master.url}/api/v1/agents`, { headers: { authorization: `Bearer ${tokenFor(master.url)}` } });
      expect(r.status).toBe(200);
      return (await r.json()) as AgentInfo[];
    };
    const refusedLog = 'refused an agent message; closing its connection';

    it.each<[string, string, number, string]>([
      ['a hello whose devices is [null]', JSON.stringify({ ...hello('bad-devices'), devices: [null] }), AGENT_CLOSE_CODES.INVALID_MESSAGE, 'hello.devices.0'],
      ['a frame that is not JSON', '{"type": "hello", "agentId": ', AGENT_CLOSE_CODES.INVALID_MESSAGE, 'not JSON'],
      [
        'a taskState before any hello',
        JSON.stringify({ type: 'taskState', allocationId: 'a1', rank: 0, state: 'running' }),
        AGENT_CLOSE_CODES.HELLO_FIRST,
        'the first message must be hello, got taskState',
      ],
    ])('%s closes the socket with its code and reason, and is logged', async (_what, frame, code, says) => {
      const { ws, closed } = await connect();
      ws.send(frame);
      const c = await closed;
      expect(c.code).toBe(code);
      expect(c.reason).toContain(says);
      expect(await logLine(refusedLog, says)).toMatchObject({ code, reason: expect.stringContaining(says) });
      expect((await agents()).map((a) => a.id)).not.toContain('bad-devices');
    });

    it('a connected agent that sends a malformed message is closed and shown disconnected', async () => {
      const { ws, closed } = await connect();
      ws.send(JSON.stringify(hello('flaky')));
      await waitFor('flaky to be connected', async () => (await agents()).find((a) => a.id === 'flaky' && a.state === 'CONNECTED'), 5000, 50);
      ws.send(JSON.stringify({ type: 'taskState', allocationId: 'a1', rank: -1, state: 'exited' }));
      const c = await closed;
      expect(c.code).toBe(AGENT_CLOSE_CODES.INVALID_MESSAGE);
      expect(c.reason).toContain('taskState.rank');
      expect(await logLine(refusedLog, 'taskState.rank')).toMatchObject({ agent: 'flaky' });
      await waitFor('flaky to be disconnected', async () => (await agents()).find((a) => a.id === 'flaky' && a.state === 'DISCONNECTED'), 5000, 50);
    });

    it('after those refusals a valid agent still connects and is listed', async () => {
      const { ws } = await connect();
      ws.send(JSON.stringify(hello('good-agent')));
      const listed = await waitFor('good-agent to be listed', async () => (await agents()).find((a) => a.id === 'good-agent'), 5000, 50);
      expect(listed).toMatchObject({ state: 'CONNECTED', resourcePool: 'default', slots: [expect.objectContaining({ id: 0, type: 'gpu' })] });
      ws.close();
    });

    it('a message whose close reason must be cut inside a multi-byte character is refused like any other', async () => {
      // The reason quotes the unknown type; cut at 123 bytes it ends in the middle of a "€" (3 bytes), and the cut
      // must not make it longer than a close frame allows (ws then throws, which in the master process is fatal).
      const type = 'aa' + '€'.repeat(38);
      const { ws, closed } = await connect();
      ws.send(JSON.stringify({ type }));
      const c = await Promise.race([closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000))]);
      expect(c?.code).toBe(AGENT_CLOSE_CODES.INVALID_MESSAGE);
      expect(c?.reason).toMatch(/^agent message type "aa€/);
      expect(Buffer.byteLength(c!.reason)).toBeLessThanOrEqual(123);
      expect((await fetch(`${master.url}/api/v1/master`)).status).toBe(200);
      ws.terminate();
    });
  });

  describe('HTTP requests', () => {
    /** Every error answer seen, checked for the shared shape at the end. */
    const answers: Answer[] = [];
    async function send(method: string, path: string, body?: string, type = 'application/json'): Promise<Answer> {
      const auth = { authorization: `Bearer ${tokenFor(master.url)}` };
      const r = await fetch(`${master.url}/api/v1${path}`, { method, headers: body === undefined ? auth : { ...auth, 'content-type': type }, body });
      const text = await r.text();
      const a = { status: r.status, body: text ? JSON.parse(text) : undefined };
      if (a.status >= 400) answers.push(a);
      return a;
    }
    const refusedLog = 'refused a malformed request';

    it.each<[string, number, string, string, string, string | undefined, string]>([
      ['a metrics report of the wrong shape', 400, 'INVALID_ARGUMENT', '/trials/1/metrics', '{"group":"nope","points":"x"}', undefined, 'body.group: must be one of training, validation'],
      ['a metrics report that is not JSON', 400, 'INVALID_ARGUMENT', '/trials/1/metrics', '{"group": "training", "points": [', undefined, 'JSON'],
      [
        'a metrics point with stepsCompleted -1',
        400,
        'INVALID_ARGUMENT',
        '/trials/1/metrics',
        JSON.stringify({ group: 'training', points: [{ stepsCompleted: -1, metrics: { loss: 1 } }] }),
        undefined,
        'body.points.0.stepsCompleted',
      ],
      ['a completed operation with a negative length', 400, 'INVALID_ARGUMENT', '/trials/1/searcher/completed_operation', '{"length": -5, "metric": 1}', undefined, 'body.length'],
      ['a body of an unsupported content type', 415, 'UNSUPPORTED_MEDIA_TYPE', '/trials/1/metrics', '<metrics/>', 'application/xml', 'content type application/xml is not accepted here'],
    ])('refuses %s with %i %s and logs why', async (_what, status, code, path, body, type, says) => {
      const r = await send('POST', path, body, type);
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(r.body.error.message).toContain(says);
      expect(await logLine(refusedLog, r.body.error.message)).toMatchObject({ code, url: `/api/v1${path}` });
    });

    it('refuses an oversized body with 413, logs it, and keeps serving', async () => {
      const config = 'name: big\n' + '#'.repeat(3 * 1024 * 1024);
      const r = await send('POST', '/experiments', JSON.stringify({ config }));
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(r.body.error.message).toContain('limit');
      await logLine(refusedLog, 'PAYLOAD_TOO_LARGE');
      const info = await send('GET', '/master');
      expect(info.status).toBe(200);
      expect(info.body.version).toEqual(expect.any(String));
    });

    it('answers other mistakes with the same error body', async () => {
      await send('GET', '/no-such-thing');
      await send('GET', '/experiments/abc');
      await send('GET', '/experiments/999999');
      await send('GET', '/trials/1/searcher/operation');
      expect(answers.map((a) => a.status)).toEqual(expect.arrayContaining([404, 400, 401]));
    });

    it('every error answer is { error: { code, message } } with a registry code whose status is the HTTP status', () => {
      expect(answers.length).toBeGreaterThanOrEqual(10);
      for (const a of answers) {
        expect(Object.keys(a.body)).toEqual(['error']);
        expect(a.body.error).toEqual({ code: expect.any(String), message: expect.any(String), ...(a.body.error.details !== undefined ? { details: a.body.error.details } : {}) });
        expect(isErrorCode(a.body.error.code), a.body.error.code).toBe(true);
        expect(ERROR_CODES[a.body.error.code as keyof typeof ERROR_CODES], JSON.stringify(a)).toBe(a.status);
      }
    });
  });
});
