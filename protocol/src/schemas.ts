// TypeBox schemas of the request bodies in ./api, for the master's validation and OpenAPI document.
// Kept apart from ./api so that the CLI and the harness do not load TypeBox at start-up.
import { Type, type Static } from 'typebox';

/** Largest step count or length a harness may report: far beyond any training, and exact in a float64. */
export const MAX_STEPS = 1e15;

export const CreateExperimentBodySchema = Type.Object({
  config: Type.Union([Type.String(), Type.Record(Type.String(), Type.Unknown())]),
  context: Type.Optional(Type.String({ description: 'model directory as a base64-encoded gzipped tar' })),
  activate: Type.Optional(Type.Boolean({ default: true })),
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
});
export type CreateExperimentBodyStatic = Static<typeof CreateExperimentBodySchema>;

export const ReportMetricsBodySchema = Type.Object({
  group: Type.Union([Type.Literal('training'), Type.Literal('validation')]),
  points: Type.Array(
    Type.Object({
      stepsCompleted: Type.Integer({ minimum: 0, maximum: MAX_STEPS }),
      metrics: Type.Record(Type.String({ maxLength: 256 }), Type.Number(), { maxProperties: 1000 }),
    }),
    { maxItems: 100000 },
  ),
});
export type ReportMetricsBodyStatic = Static<typeof ReportMetricsBodySchema>;

export const CompleteOperationBodySchema = Type.Object({
  length: Type.Number({ minimum: 0, maximum: MAX_STEPS }),
  metric: Type.Number(),
});
export type CompleteOperationBodyStatic = Static<typeof CompleteOperationBodySchema>;

export const ReportCheckpointBodySchema = Type.Object({
  uuid: Type.String({ format: 'uuid' }),
  stepsCompleted: Type.Integer({ minimum: 0, maximum: MAX_STEPS }),
  resources: Type.Record(Type.String({ maxLength: 1024 }), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), { maxProperties: 100_000 }),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { maxProperties: 1000 })),
});
export type ReportCheckpointBodyStatic = Static<typeof ReportCheckpointBodySchema>;

export const RendezvousBodySchema = Type.Object({
  rank: Type.Integer({ minimum: 0, maximum: 65535 }),
  address: Type.String({ minLength: 1, maxLength: 256 }),
});
export type RendezvousBodyStatic = Static<typeof RendezvousBodySchema>;

export const ReportProgressBodySchema = Type.Object({
  length: Type.Number({ minimum: 0, maximum: MAX_STEPS }),
});
export type ReportProgressBodyStatic = Static<typeof ReportProgressBodySchema>;
