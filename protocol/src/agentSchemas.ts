// Schemas of the master <-> agent messages in ./agent, and the check each side runs on what it receives.
// A message is first told apart by its `type`, then checked against that type's schema, so a refusal names
// the field that is wrong rather than every alternative of a union. Kept apart from ./agent so that processes
// that only need the types do not load TypeBox.
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { AgentToMaster, MasterToAgent } from './agent';

/** Largest WebSocket frame either side accepts, bytes (a log batch of a few thousand long lines fits). */
export const MAX_AGENT_FRAME_BYTES = 16 * 1024 * 1024;

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Count = Type.Integer({ minimum: 0, maximum: 1_000_000 });
/** A message sequence number of an agent's outbox. */
const Seq = Type.Integer({ minimum: 1 });

const DeviceSchema = Type.Object({
  id: Type.Integer({ minimum: 0, maximum: 65535 }),
  type: Type.Union([Type.Literal('gpu'), Type.Literal('cpu')]),
  brand: Type.String({ maxLength: 256 }),
  uuid: Type.String({ maxLength: 256 }),
  memoryMiB: Type.Optional(Type.Number({ minimum: 0 })),
});

/** An agent secret: 32 random bytes, base64url (43 characters); some room for other encodings. */
const Secret = Type.String({ minLength: 16, maxLength: 256 });

const RunningTaskSchema = Type.Object({ allocationId: Id, rank: Count, pid: Type.Integer({ minimum: 0 }) });

const LogLineSchema = Type.Object({
  rank: Count,
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  ts: Type.String({ maxLength: 64 }),
  line: Type.String({ maxLength: 1_000_000 }),
});

const AGENT_TO_MASTER: Record<AgentToMaster['type'], TSchema> = {
  hello: Type.Object({
    type: Type.Literal('hello'),
    agentId: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' }),
    resourcePool: Type.String({ maxLength: 253 }),
    devices: Type.Array(DeviceSchema, { maxItems: 1024 }),
    running: Type.Array(RunningTaskSchema, { maxItems: 4096 }),
    version: Type.String({ maxLength: 64 }),
    hostname: Type.String({ maxLength: 253 }),
    agentSecret: Type.Optional(Secret),
    outbox: Type.Optional(Type.Object({ epoch: Type.String({ minLength: 1, maxLength: 64 }), firstSeq: Seq })),
    exiting: Type.Optional(Type.Array(Type.Object({ allocationId: Id, rank: Count }), { maxItems: 4096 })),
  }),
  taskState: Type.Object({
    type: Type.Literal('taskState'),
    seq: Type.Optional(Seq),
    allocationId: Id,
    rank: Count,
    state: Type.Union([Type.Literal('running'), Type.Literal('exited')]),
    exitCode: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    signal: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    message: Type.Optional(Type.String({ maxLength: 65536 })),
  }),
  logBatch: Type.Object({
    type: Type.Literal('logBatch'),
    seq: Type.Optional(Seq),
    allocationId: Id,
    trialId: Type.Integer({ minimum: 1 }),
    logs: Type.Array(LogLineSchema, { maxItems: 10_000 }),
    source: Type.Optional(
      Type.Object({ rank: Count, stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]), from: Type.Integer({ minimum: 0 }), to: Type.Integer({ minimum: 0 }) }),
    ),
  }),
  heartbeat: Type.Object({ type: Type.Literal('heartbeat'), time: Type.Number() }),
};

const MASTER_TO_AGENT: Record<MasterToAgent['type'], TSchema> = {
  startTask: Type.Object({
    type: Type.Literal('startTask'),
    allocationId: Id,
    trialId: Type.Integer({ minimum: 1 }),
    experimentId: Type.Integer({ minimum: 1 }),
    rank: Count,
    worldSize: Type.Integer({ minimum: 1 }),
    devices: Type.Array(Type.Integer({ minimum: 0 })),
    env: Type.Record(Type.String(), Type.String()),
    contextUrl: Type.String({ minLength: 1 }),
    entrypoint: Type.String(),
  }),
  signalTask: Type.Object({ type: Type.Literal('signalTask'), allocationId: Id, signal: Type.Union([Type.Literal('terminate'), Type.Literal('kill')]) }),
  ack: Type.Object({ type: Type.Literal('ack'), seq: Type.Integer({ minimum: 0 }) }),
  experimentEnded: Type.Object({ type: Type.Literal('experimentEnded'), experimentId: Type.Integer({ minimum: 1 }) }),
  welcome: Type.Object({
    type: Type.Literal('welcome'),
    masterVersion: Type.String(),
    heartbeatIntervalMs: Type.Integer({ minimum: 100 }),
    agentSecret: Type.Optional(Secret),
    acks: Type.Optional(Type.Boolean()),
  }),
};

export type MessageCheck<T> = { ok: true; message: T } | { ok: false; reason: string };

function checker<T extends { type: string }>(side: string, schemas: Record<string, TSchema>): (raw: string) => MessageCheck<T> {
  const compiled = new Map(Object.entries(schemas).map(([k, s]) => [k, Compile(s)]));
  return (raw) => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, reason: `${side} message is not JSON` };
    }
    const type = (value as { type?: unknown } | null)?.type;
    const c = typeof type === 'string' ? compiled.get(type) : undefined;
    if (!c) {
      const shown = typeof type === 'string' ? `"${type.slice(0, 40)}"` : 'missing';
      return { ok: false, reason: `${side} message type ${shown}: expected one of ${[...compiled.keys()].join(', ')}` };
    }
    if (c.Check(value)) return { ok: true, message: value as T };
    const first = [...c.Errors(value)][0];
    const where = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
    return { ok: false, reason: `${type}${where ? `.${where}` : ''}: ${first?.message ?? 'does not match the protocol'}` };
  };
}

/** Checks a frame an agent sent to the master. */
export const checkAgentMessage = checker<AgentToMaster>('agent', AGENT_TO_MASTER);
/** Checks a frame the master sent to an agent. */
export const checkMasterMessage = checker<MasterToAgent>('master', MASTER_TO_AGENT);
