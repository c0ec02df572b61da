// The wasm backend's gradient kernels (wasmGradients.ts) against the cpu backend's: each kernel on its own over
// strides, padding and dilation (where cpu has no answer, against the forward op), then whole gradients of small conv
// nets built with tf.layers, then a few Adam steps of the MNIST example's CNN. Same inputs on both backends; results
// agree within float32 rounding.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend';
import { wasmGradientKernels } from './wasmGradients';

beforeAll(async () => {
  await selectBackend('wasm', () => undefined);
});

/** Deterministic values in [-1, 1), some of them exactly 0 (as after a ReLU). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = i % 7 === 3 ? 0 : s / 2 ** 31 - 1;
  }
  return out;
}

const tensor = (shape: number[], seed: number): tf.Tensor => tf.tensor(values(tf.util.sizeFromShape(shape), seed), shape);

/** Runs `fn` on `backend` and returns the values of the tensors it makes. */
async function on(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const vals = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return vals;
}

/** The same computation on wasm and on cpu gives the same numbers (relative to each tensor's scale). */
async function expectSameOnBothBackends(fn: () => tf.Tensor[], rtol = 1e-4): Promise<void> {
  const wasm = await on('wasm', fn);
  const cpu = await on('cpu', fn);
  await tf.setBackend('wasm');
  expect(wasm.length).toBe(cpu.length);
  wasm.forEach((w, i) => {
    const c = cpu[i]!;
    expect(w.length).toBe(c.length);
    let scale = 1e-3;
    let worst = 0;
    for (let j = 0; j < c.length; j++) {
      scale = Math.max(scale, Math.abs(c[j]!));
      worst = Math.max(worst, Math.abs(w[j]! - c[j]!));
    }
    expect(worst / scale, `output ${i}: max |wasm - cpu| = ${worst}, scale ${scale}`).toBeLessThan(rtol);
  });
}

const run = (kernel: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor => tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;

type Pad = tf.Conv2DBackpropFilterAttrs['pad'];
type Shape4 = [number, number, number, number];

interface ConvCase {
  name: string;
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const convCases: ConvCase[] = [
  { name: 'MNIST conv 1: 5×5, stride 2, valid', x: [3, 28, 28, 1], filter: [5, 5, 1, 8], strides: 2, pad: 'valid' },
  { name: 'MNIST conv 2: 3×3, stride 2, valid', x: [3, 12, 12, 8], filter: [3, 3, 8, 16], strides: 2, pad: 'valid' },
  { name: '3×3 same', x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: 'uneven strides, same (asymmetric padding)', x: [2, 10, 7, 2], filter: [4, 3, 2, 3], strides: [2, 3], pad: 'same' },
  { name: 'numeric padding, ceil', x: [1, 8, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'explicit padding', x: [2, 7, 6, 3], filter: [2, 3, 3, 2], strides: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { name: '1×1', x: [2, 5, 5, 6], filter: [1, 1, 6, 4], strides: 1, pad: 'valid' },
];

const outShape = (c: ConvCase, depthwise: boolean): number[] => tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations ?? 1, c.pad, c.dimRoundingMode, depthwise).outShape;

describe('wasm gradient kernels match the cpu backend', () => {
  const exercised = new Set<string>();
  const check = async (kernel: string, fn: () => tf.Tensor[]) => {
    exercised.add(kernel);
    await expectSameOnBothBackends(fn);
  };

  const conv2DFilter = (c: ConvCase, x: tf.Tensor, dy: tf.Tensor) =>
    run(tf.Conv2DBackpropFilter, { x, dy }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode, filterShape: c.filter });
  it.each(convCases)('Conv2DBackpropFilter: $name', async (c) => {
    await check(tf.Conv2DBackpropFilter, () => [conv2DFilter(c, tensor(c.x, 1), tensor(outShape(c, false), 2))]);
  });

  it('Conv2DBackpropFilter: a batch whose im2col matrix is built in chunks of images is the adjoint of Conv2D', async () => {
    // 160×160 outputs × 13×13 taps: more than one image's im2col exceeds the chunk, so each image is its own chunk.
    const c: ConvCase = { name: 'chunked', x: [3, 160, 160, 1], filter: [13, 13, 1, 2], strides: 1, pad: 'same' };
    const [forward, viaFilter] = tf.tidy(() => {
      const x = tensor(c.x, 13);
      const w = tensor(c.filter, 14);
      const dy = tensor(outShape(c, false), 15);
      return [tf.sum(tf.mul(dy, tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'))), tf.sum(tf.mul(conv2DFilter(c, x, dy), w))].map((t) => t.dataSync()[0]!);
    });
    expect(viaFilter! / forward!).toBeCloseTo(1, 4);
  });

  const depthwiseCases: ConvCase[] = convCases.map((c) => ({ ...c, filter: [c.filter[0], c.filter[1], c.x[3], 2] as Shape4 }));
  const depthwiseFilter = (c: ConvCase, x: tf.Tensor, dy: tf.Tensor) =>
    run(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { strides: c.strides, dilations: c.dilations ?? 1, pad: c.pad, dimRoundingMode: c.dimRoundingMode, filterShape: c.filter });
  const depthwiseInput = (c: ConvCase, dy: tf.Tensor, filter: tf.Tensor) =>
    run(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, { strides: c.strides, dilations: c.dilations ?? 1, pad: c.pad, dimRoundingMode: c.dimRoundingMode, inputShape: c.x });
  it.each(depthwiseCases)('DepthwiseConv2dNativeBackpropFilter: $name', async (c) => {
    await check(tf.DepthwiseConv2dNativeBackpropFilter, () => [depthwiseFilter(c, tensor(c.x, 3), tensor(outShape(c, true), 4))]);
  });
  it.each(depthwiseCases)('DepthwiseConv2dNativeBackpropInput: $name', async (c) => {
    await check(tf.DepthwiseConv2dNativeBackpropInput, () => [depthwiseInput(c, tensor(outShape(c, true), 5), tensor(c.filter, 6))]);
  });

  // The cpu backend's depthwise backprop kernels ignore dilations (tfjs computes no gradient of a dilated depthwise
  // conv), so dilated cases are checked against the forward op (on cpu) instead: a convolution is linear in x and in
  // the filter, and its backprops are the adjoints, ⟨dy, conv(x, w)⟩ = ⟨backpropFilter(x, dy), w⟩ = ⟨x, backpropInput(dy, w)⟩.
  it.each([
    ...depthwiseCases,
    { name: 'dilation 2', x: [2, 9, 9, 3], filter: [3, 3, 3, 1], strides: 1, pad: 'same', dilations: 2 },
    { name: 'dilation [2, 3], valid', x: [1, 11, 12, 2], filter: [2, 3, 2, 3], strides: 1, pad: 'valid', dilations: [2, 3] },
  ] satisfies ConvCase[])('depthwise backprops are the adjoints of DepthwiseConv2dNative: $name', async (c) => {
    const x = () => tensor(c.x, 8) as tf.Tensor4D;
    const w = () => tensor(c.filter, 9) as tf.Tensor4D;
    const dy = () => tensor(outShape(c, true), 10);
    const [forward] = await on('cpu', () => [tf.sum(tf.mul(dy(), tf.depthwiseConv2d(x(), w(), c.strides, c.pad, 'NHWC', c.dilations ?? 1, c.dimRoundingMode)))]);
    const [viaFilter, viaInput] = await on('wasm', () => [tf.sum(tf.mul(depthwiseFilter(c, x(), dy()), w())), tf.sum(tf.mul(x(), depthwiseInput(c, dy(), w())))]);
    expect(viaFilter![0]).toBeCloseTo(forward![0]!, 3);
    expect(viaInput![0]).toBeCloseTo(forward![0]!, 3);
  });

  it.each([
    { name: '2×2, stride 2, valid', x: [3, 8, 8, 4], filterSize: 2, strides: 2, pad: 'valid' },
    { name: '3×3, stride 2, same', x: [2, 9, 9, 3], filterSize: 3, strides: 2, pad: 'same' },
    { name: '3×3, stride 1, same (overlapping windows)', x: [2, 7, 7, 2], filterSize: 3, strides: 1, pad: 'same' },
    { name: '2×3, strides [1, 2], numeric padding, ceil', x: [1, 7, 8, 3], filterSize: [2, 3], strides: [1, 2], pad: 1, dimRoundingMode: 'ceil' },
  ] satisfies Array<{ name: string; x: Shape4; filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: 'ceil' }>)('MaxPoolGrad: $name', async (c) => {
    await check(tf.MaxPoolGrad, () => {
      const input = tensor(c.x, 11);
      const output = tf.maxPool(input as tf.Tensor4D, c.filterSize, c.strides, c.pad as 'valid', c.dimRoundingMode);
      return [run(tf.MaxPoolGrad, { dy: tensor(output.shape, 12), input, output }, { filterSize: c.filterSize, strides: c.strides, pad: c.pad, dimRoundingMode: c.dimRoundingMode })];
    });
  });

  it('MaxPoolGrad sends the gradient of a window of negative values to its maximum (tfjs-backend-wasm 4.22 does not)', () => {
    const dx = tf.tidy(() => tf.grad((x) => tf.sum(tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid')))(tf.tensor4d([-3, -1, -2, -4], [1, 2, 2, 1])).arraySync());
    expect(dx).toEqual([[[[0], [1]], [[0], [0]]]]);
  });

  it.each([
    { name: 'rows of a matrix', x: [6, 4], ids: [0, 2, 2, 5, 1, 0], numSegments: 7, dtype: 'float32' as const },
    { name: 'int32 values', x: [5, 3], ids: [1, 1, 0, 3, 1], numSegments: 4, dtype: 'int32' as const },
  ])('UnsortedSegmentSum: $name', async (c) => {
    await check(tf.UnsortedSegmentSum, () => {
      const x = tf.cast(tf.mul(tensor(c.x, 7), c.dtype === 'int32' ? 100 : 1), c.dtype);
      return [tf.cast(run(tf.UnsortedSegmentSum, { x, segmentIds: tf.tensor(c.ids, undefined, 'int32') }, { numSegments: c.numSegments }), 'float32')];
    });
  });

  it('UnsortedSegmentSum: ids over several leading dimensions sum as if flattened', () => {
    const [nested, flat] = tf.tidy(() => {
      const x = tensor([2, 3, 4], 7);
      const ids = [[2, 0, 2], [1, 1, 3]];
      return [run(tf.UnsortedSegmentSum, { x, segmentIds: tf.tensor2d(ids, undefined, 'int32') }, { numSegments: 4 }), run(tf.UnsortedSegmentSum, { x: x.reshape([6, 4]), segmentIds: tf.tensor1d(ids.flat(), 'int32') }, { numSegments: 4 })].map((t) => t.arraySync());
    });
    expect(nested).toEqual(flat);
  });

  it('covers every kernel the module provides', () => {
    expect([...exercised].sort()).toEqual(wasmGradientKernels.map((k) => k.kernelName).sort());
  });
});

describe('the wasm backend', () => {
  it('has every kernel the cpu backend has, but those no training step dispatches to', () => {
    // Complex numbers, FFTs, strings, ragged tensors, einsum (no gradient in tfjs) and drawing to a canvas.
    const notForTraining = ['Complex', 'ComplexAbs', 'Draw', 'Einsum', 'FFT', 'IFFT', 'Imag', 'Real', 'RaggedGather', 'RaggedRange', 'RaggedTensorToTensor', 'StaticRegexReplace'];
    const wasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    const missing = tf.getKernelsForBackend('cpu').map((k) => k.kernelName).filter((k) => !wasm.has(k));
    expect(missing.sort()).toEqual(notForTraining.sort());
  });
});

/** Gradients of the model's categorical cross-entropy on (x, y) with respect to its trainable weights. */
function gradients(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Tensor[] {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
  return [value, ...vars.map((v) => grads[v.name]!)];
}

const oneHot = (n: number, classes: number): tf.Tensor => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % classes), 'int32'), classes);

/** The MNIST example's CNN (examples/mnist/model.ts, cnn), with seeded initializers. */
function mnistCnn(hidden = 32): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 2 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 3 }) }),
      tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
}

describe('gradients of conv nets on wasm match cpu', () => {
  it('the MNIST example CNN', async () => {
    const model = mnistCnn();
    await expectSameOnBothBackends(() => gradients(model, tensor([8, 28, 28, 1], 11), oneHot(8, 10)));
    model.dispose();
  });

  // (Not UpSampling2D: the cpu backend's ResizeNearestNeighborGrad is wrong for batches of more than one image.)
  it('common conv layers: same padding, pooling, depthwise and separable convs, batch norm, transposed conv', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.zeroPadding2d({ inputShape: [12, 12, 2], padding: 1 }),
        tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.batchNormalization(),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', strides: 2, activation: 'elu', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 3 }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: 33 }) }),
        tf.layers.leakyReLU(),
        tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
        tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tf.layers.conv2d({ filters: 5, kernelSize: 3, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
      ],
    });
    await expectSameOnBothBackends(() => gradients(model, tensor([4, 12, 12, 2], 12), oneHot(4, 3)));
    model.dispose();
  });

  it('an embedding (Gather, whose gradient is UnsortedSegmentSum) into a 1-D conv', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 20, outputDim: 6, inputLength: 9, embeddingsInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 1 }) }),
        tf.layers.conv1d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.globalMaxPooling1d({}),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    const ids = () => tf.tensor2d(Array.from({ length: 5 * 9 }, (_, i) => (i * 13) % 20), [5, 9], 'int32');
    await expectSameOnBothBackends(() => gradients(model, ids(), oneHot(5, 2)));
    model.dispose();
  });
});

describe('training the MNIST example CNN on wasm', () => {
  /** Losses of `steps` Adam steps from the same initial weights, on `backend`. */
  async function losses(backend: 'wasm' | 'cpu', steps: number): Promise<number[]> {
    await tf.setBackend(backend);
    const model = mnistCnn();
    const optimizer = tf.train.adam(0.003);
    const x = tensor([16, 28, 28, 1], 21);
    const y = oneHot(16, 10);
    const out: number[] = [];
    for (let i = 0; i < steps; i++) {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      out.push(loss.dataSync()[0]!);
      loss.dispose();
    }
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
    return out;
  }

  it('takes the same Adam steps as on cpu, and its loss falls', async () => {
    const wasm = await losses('wasm', 8);
    const cpu = await losses('cpu', 8);
    await tf.setBackend('wasm');
    wasm.forEach((l, i) => expect(l).toBeCloseTo(cpu[i]!, 3));
    expect(wasm.at(-1)!).toBeLessThan(wasm[0]! * 0.8);
  });
});
