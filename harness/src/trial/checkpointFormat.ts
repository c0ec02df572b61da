// The Trial API's checkpoint: `weights.bin` (model weights, then optimizer weights, raw little-endian values in order)
// and `manifest.json` (what each slice is, plus the harness state needed to resume exactly). `model.json` holds the
// model topology when tfjs can serialise it, for people who want to load the model elsewhere.
import * as tf from '@tensorflow/tfjs';
import type { CheckpointFiles } from '../core/checkpointStorage';

export const CHECKPOINT_FORMAT = 'hone-trial/1';

export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  byteOffset: number;
  byteLength: number;
}

export interface TrialState {
  /** Global batches trained by this trial. */
  stepsCompleted: number;
  globalBatchSize: number;
  seed: number;
  /** Derived from stepsCompleted, stored for people reading the manifest. */
  epoch: number;
  batchInEpoch: number;
  batchesPerEpoch: number;
}

export interface TrialManifest {
  format: typeof CHECKPOINT_FORMAT;
  state: TrialState;
  optimizer: { className: string; weights: TensorEntry[] };
  model: { weights: TensorEntry[] };
  /** Whatever TrialDef.saveState returned. */
  user?: unknown;
}

const HIDDEN_PREFIX = '__optimizer_field__/';

/**
 * Scalar variables some optimizers keep outside getWeights (Adam's and Adamax's running beta powers). setWeights
 * recomputes them with pow(), which differs from the running product in the last bits; storing them makes a resumed
 * trial bit-identical to an uninterrupted one.
 */
function hiddenOptimizerState(optimizer: tf.Optimizer): Array<{ name: string; tensor: tf.Tensor }> {
  const out: Array<{ name: string; tensor: tf.Tensor }> = [];
  for (const [key, value] of Object.entries(optimizer as unknown as Record<string, unknown>)) {
    if (value instanceof tf.Variable && value.rank === 0) out.push({ name: HIDDEN_PREFIX + key, tensor: value });
  }
  return out;
}

async function pack(named: Array<{ name: string; tensor: tf.Tensor }>, chunks: Uint8Array[], offset: { v: number }): Promise<TensorEntry[]> {
  const entries: TensorEntry[] = [];
  for (const { name, tensor } of named) {
    const dtype = tensor.dtype as TensorEntry['dtype'];
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new Error(`checkpoint: cannot store ${name} of dtype ${tensor.dtype}`);
    const data = await tensor.data();
    const typed = dtype === 'float32' ? Float32Array.from(data as Float32Array) : Int32Array.from(data as Int32Array);
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    entries.push({ name, shape: tensor.shape, dtype, byteOffset: offset.v, byteLength: bytes.byteLength });
    chunks.push(bytes);
    offset.v += bytes.byteLength;
  }
  return entries;
}

export async function encodeCheckpoint(model: tf.LayersModel, optimizer: tf.Optimizer, state: TrialState, user?: unknown): Promise<CheckpointFiles> {
  const chunks: Uint8Array[] = [];
  const offset = { v: 0 };
  const modelEntries = await pack(model.weights.map((w) => ({ name: w.originalName ?? w.name, tensor: w.read() })), chunks, offset);
  const optWeights = await optimizer.getWeights();
  const optEntries = await pack([...optWeights, ...hiddenOptimizerState(optimizer)], chunks, offset);
  // getWeights makes a fresh tensor for the iteration count; the others are the optimizer's own variables.
  for (const w of optWeights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  const bin = new Uint8Array(offset.v);
  let at = 0;
  for (const c of chunks) {
    bin.set(c, at);
    at += c.byteLength;
  }
  const manifest: TrialManifest = {
    format: CHECKPOINT_FORMAT,
    state,
    optimizer: { className: optimizer.getClassName(), weights: optEntries },
    model: { weights: modelEntries },
    ...(user !== undefined ? { user } : {}),
  };
  const files: CheckpointFiles = {
    'manifest.json': new TextEncoder().encode(JSON.stringify(manifest, null, 1)),
    'weights.bin': bin,
  };
  try {
    files['model.json'] = new TextEncoder().encode(JSON.stringify(model.toJSON(undefined, false)));
  } catch {
    // Custom layers may not serialise; the weights alone are enough to resume.
  }
  return files;
}

function unpack(bin: Uint8Array, e: TensorEntry): tf.Tensor {
  const buf = bin.buffer.slice(bin.byteOffset + e.byteOffset, bin.byteOffset + e.byteOffset + e.byteLength);
  const values = e.dtype === 'float32' ? new Float32Array(buf) : new Int32Array(buf);
  return tf.tensor(values, e.shape, e.dtype);
}

export function decodeManifest(files: CheckpointFiles): TrialManifest {
  const raw = files['manifest.json'];
  if (!raw) throw new Error('checkpoint: manifest.json is missing (not a Trial API checkpoint?)');
  const manifest = JSON.parse(new TextDecoder().decode(raw)) as TrialManifest;
  if (manifest.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint: format ${String(manifest.format)} is not ${CHECKPOINT_FORMAT}`);
  return manifest;
}

/** Loads weights and optimizer state into the freshly built model and optimizer. Returns the manifest. */
export async function restoreCheckpoint(files: CheckpointFiles, model: tf.LayersModel, optimizer: tf.Optimizer): Promise<TrialManifest> {
  const manifest = decodeManifest(files);
  const bin = files['weights.bin'];
  if (!bin) throw new Error('checkpoint: weights.bin is missing');
  if (manifest.model.weights.length !== model.weights.length) {
    throw new Error(`checkpoint: it has ${manifest.model.weights.length} model weights, the model has ${model.weights.length} (did the model change?)`);
  }
  const weights = manifest.model.weights.map((e, i) => {
    const want = model.weights[i]!.shape;
    if (want.join(',') !== e.shape.join(',')) throw new Error(`checkpoint: weight ${e.name} has shape [${e.shape}], the model expects [${want}]`);
    return unpack(bin, e);
  });
  model.setWeights(weights);
  tf.dispose(weights);
  if (manifest.optimizer.className !== optimizer.getClassName()) {
    throw new Error(`checkpoint: optimizer was ${manifest.optimizer.className}, now ${optimizer.getClassName()}`);
  }
  const all = manifest.optimizer.weights.map((e) => ({ name: e.name, tensor: unpack(bin, e) }));
  const opt = all.filter((o) => !o.name.startsWith(HIDDEN_PREFIX));
  // setWeights wraps our tensors in new variables (sharing their data); dropping our references is safe.
  await optimizer.setWeights(opt);
  const hidden = new Map(hiddenOptimizerState(optimizer).map((h) => [h.name, h.tensor as tf.Variable]));
  for (const o of all) {
    if (o.name.startsWith(HIDDEN_PREFIX)) hidden.get(o.name)?.assign(o.tensor);
  }
  tf.dispose(all.map((o) => o.tensor));
  return manifest;
}
