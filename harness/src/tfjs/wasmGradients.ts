// Gradient kernels for the WebAssembly backend of TensorFlow.js (@tensorflow/tfjs-backend-wasm 4.22), so that conv nets
// train on it and not only run inference:
// - kernels it does not register: without them, the first backward pass through a Conv2D fails with
//   "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'". A later version that ships its own keeps it.
// - kernels it has but gets wrong: its MaxPoolGrad sends the gradient of a window whose maximum is <= 0 to the
//   window's first element instead of its maximum (harmless after a ReLU, wrong after a linear conv or batch norm).
//
// The kernels read their inputs straight from the wasm heap and write their output there, so tensors never leave the
// backend and every other op keeps its native kernel. Conv2DBackpropFilter, the costly one, is a matrix product
// (im2col(x)ᵀ · dy) done by the backend's own BatchMatMul; the others are direct loops over the filter taps in
// JavaScript, accumulated in float64. Results match the cpu backend's kernels within float32 rounding
// (wasmGradients.test.ts). Images are NHWC, the only layout the wasm backend's convolutions take.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Conv2DInfo = tf.backend_util.Conv2DInfo;
type WasmKernel = (args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap }) => tf.TensorInfo;

/** Largest im2col matrix (elements) Conv2DBackpropFilter builds at once; bigger batches go in chunks of images. */
const IM2COL_MAX_ELEMENTS = 1 << 22;

/**
 * Where each filter tap of each output pixel reads in one image: entry `pixel * taps + tap` is the index of the input
 * pixel (row * inWidth + col) or -1 where the tap falls on padding. `pixel` is row * outWidth + col of the output,
 * `tap` is row * filterWidth + col of the filter. Strides, dilations and padding come from `info`; the same table
 * serves every image of the batch (add image × inHeight × inWidth).
 */
function tapSources(info: Conv2DInfo): Int32Array {
  const { outHeight, outWidth, inHeight, inWidth, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  const table = new Int32Array(outHeight * outWidth * filterHeight * filterWidth);
  let i = 0;
  for (let yR = 0; yR < outHeight; yR++) {
    for (let yC = 0; yC < outWidth; yC++) {
      for (let wR = 0; wR < filterHeight; wR++) {
        const xR = yR * strideHeight - top + wR * dilationHeight;
        for (let wC = 0; wC < filterWidth; wC++) {
          const xC = yC * strideWidth - left + wC * dilationWidth;
          table[i++] = xR < 0 || xR >= inHeight || xC < 0 || xC >= inWidth ? -1 : xR * inWidth + xC;
        }
      }
    }
  }
  return table;
}

/**
 * Calls `visit` for every (output pixel, filter tap) pair that reads an input pixel (not padding), over the batch:
 * `x` and `y` are the input and output pixels' indices in their NHWC tensors (element offset = pixel × channels).
 */
function forEachTap(info: Conv2DInfo, visit: (x: number, y: number, tap: number) => void): void {
  const sources = tapSources(info);
  const taps = info.filterHeight * info.filterWidth;
  const inPixels = info.inHeight * info.inWidth;
  const outPixels = info.outHeight * info.outWidth;
  for (let b = 0; b < info.batchSize; b++) {
    for (let i = 0; i < sources.length; i++) {
      if (sources[i]! >= 0) visit(b * inPixels + sources[i]!, b * outPixels + Math.floor(i / taps), i % taps);
    }
  }
}

/** A new tensor on the wasm heap holding `values` (which must not be a view of the heap). */
function heapOutput(backend: BackendWasm, shape: number[], values: ArrayLike<number>, dtype: tf.DataType = 'float32'): tf.TensorInfo {
  // Allocating may grow the heap and detach earlier views of it: views are taken after every allocation.
  const out = backend.makeOutput(shape, dtype);
  backend.typedArrayFromHeap(out).set(values);
  return out;
}

/**
 * dL/dfilter of Conv2D, filter [fh, fw, in, out] = im2col(x)ᵀ · dy: im2col(x) has a row per output pixel and a column
 * per (tap, input channel), dy is [output pixels, out]. The kernel builds im2col(x)ᵀ directly (the backend's
 * BatchMatMul is several times slower with transposeA).
 */
const conv2DBackpropFilter: WasmKernel = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, format);
  if (info.dataFormat !== 'channelsLast') throw new Error(`wasm backend Conv2DBackpropFilter does not support dataFormat '${info.dataFormat}' (nor does its Conv2D): use 'channelsLast'`);
  const { batchSize, inChannels, outChannels } = info;
  const pixels = info.outHeight * info.outWidth;
  const inPixels = info.inHeight * info.inWidth;
  const taps = info.filterHeight * info.filterWidth;
  const k = taps * inChannels;
  const sources = tapSources(info);
  const imagesPerChunk = Math.max(1, Math.floor(IM2COL_MAX_ELEMENTS / (pixels * k)));
  const matMul = tf.getKernel(tf.BatchMatMul, 'wasm')!.kernelFunc;
  const sum = imagesPerChunk < batchSize ? new Float64Array(k * outChannels) : null;
  for (let from = 0; from < batchSize; from += imagesPerChunk) {
    const to = Math.min(batchSize, from + imagesPerChunk);
    const rows = (to - from) * pixels;
    const colsT = backend.makeOutput([k, rows], 'float32');
    // dy of these images: all of dy in one chunk, else a copy of its rows.
    const dyRows = sum ? backend.makeOutput([rows, outChannels], 'float32') : { dataId: dy.dataId, shape: [rows, outChannels], dtype: dy.dtype };
    const colv = backend.typedArrayFromHeap(colsT).fill(0);
    const xv = backend.typedArrayFromHeap(x);
    if (sum) backend.typedArrayFromHeap(dyRows).set(backend.typedArrayFromHeap(dy).subarray(from * pixels * outChannels, to * pixels * outChannels));
    for (let b = from, row = 0; b < to; b++) {
      for (let p = 0, i = 0; p < pixels; p++, row++) {
        for (let t = 0; t < taps; t++, i++) {
          if (sources[i]! < 0) continue;
          const src = (b * inPixels + sources[i]!) * inChannels;
          for (let c = 0; c < inChannels; c++) colv[(t * inChannels + c) * rows + row] = xv[src + c]!;
        }
      }
    }
    const product = matMul({ inputs: { a: colsT, b: dyRows }, attrs: { transposeA: false, transposeB: false }, backend }) as tf.TensorInfo;
    backend.disposeData(colsT.dataId);
    if (!sum) return { dataId: product.dataId, shape: info.filterShape, dtype: 'float32' };
    backend.disposeData(dyRows.dataId);
    const pv = backend.typedArrayFromHeap(product);
    for (let i = 0; i < sum.length; i++) sum[i] += pv[i]!;
    backend.disposeData(product.dataId);
  }
  return heapOutput(backend, info.filterShape, sum!);
};

/** dL/dfilter of DepthwiseConv2dNative: filter [fh, fw, in, multiplier]; output channel c·multiplier + q. */
const depthwiseConv2dNativeBackpropFilter: WasmKernel = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true);
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  const { inChannels, outChannels } = info;
  const mult = outChannels / inChannels;
  const dw = new Float64Array(info.filterHeight * info.filterWidth * outChannels);
  forEachTap(info, (xp, yp, tap) => {
    const x0 = xp * inChannels;
    const y0 = yp * outChannels;
    const w0 = tap * outChannels;
    for (let ci = 0; ci < inChannels; ci++) {
      const v = xv[x0 + ci]!;
      const c0 = ci * mult;
      for (let q = 0; q < mult; q++) dw[w0 + c0 + q] += v * dyv[y0 + c0 + q]!;
    }
  });
  return heapOutput(backend, info.filterShape, dw);
};

/** dL/dx of DepthwiseConv2dNative, from the output gradient dy and the filter. */
const depthwiseConv2dNativeBackpropInput: WasmKernel = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as Record<'dy' | 'filter', tf.TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, true);
  const dyv = backend.typedArrayFromHeap(dy);
  const fv = backend.typedArrayFromHeap(filter);
  const { inChannels, outChannels } = info;
  const mult = outChannels / inChannels;
  const dx = new Float64Array(tf.util.sizeFromShape(info.inShape));
  forEachTap(info, (xp, yp, tap) => {
    const x0 = xp * inChannels;
    const y0 = yp * outChannels;
    const w0 = tap * outChannels;
    for (let ci = 0; ci < inChannels; ci++) {
      const c0 = ci * mult;
      let s = 0;
      for (let q = 0; q < mult; q++) s += dyv[y0 + c0 + q]! * fv[w0 + c0 + q]!;
      dx[x0 + ci] += s;
    }
  });
  return heapOutput(backend, info.inShape, dx);
};

/** dL/dx of MaxPool: each output's gradient goes to the first maximum of its window (as on the cpu backend). */
const maxPoolGrad: WasmKernel = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as Record<'dy' | 'input', tf.TensorInfo>;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const xv = backend.typedArrayFromHeap(input);
  const dyv = backend.typedArrayFromHeap(dy);
  const channels = info.inChannels;
  const best = new Float32Array(dyv.length).fill(-Infinity);
  const at = new Int32Array(dyv.length).fill(-1);
  forEachTap(info, (xp, yp) => {
    const x0 = xp * channels;
    const y0 = yp * channels;
    for (let c = 0; c < channels; c++) {
      const v = xv[x0 + c]!;
      if (v > best[y0 + c]!) {
        best[y0 + c] = v;
        at[y0 + c] = x0 + c;
      }
    }
  });
  const dx = new Float64Array(xv.length);
  for (let i = 0; i < at.length; i++) if (at[i]! >= 0) dx[at[i]!] += dyv[i]!;
  return heapOutput(backend, input.shape, dx);
};

/**
 * UnsortedSegmentSum (the gradient of Gather, hence of embeddings): out[s, ...] = Σ x[i, ...] over i with
 * segmentIds[i] = s. segmentIds covers x's leading dimensions; ids outside [0, numSegments) are dropped, as in
 * TensorFlow for negative ids.
 */
const unsortedSegmentSum: WasmKernel = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as Record<'x' | 'segmentIds', tf.TensorInfo>;
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const xv = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const inner = rows === 0 ? 0 : xv.length / rows;
  const out = new Float64Array(numSegments * inner);
  for (let i = 0; i < rows; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    for (let j = 0; j < inner; j++) out[s * inner + j] += xv[i * inner + j]!;
  }
  return heapOutput(backend, [numSegments, ...x.shape.slice(segmentIds.shape.length)], out, x.dtype);
};

/** Names of the kernels that replace the backend's own, which give wrong results. */
export const replacedWasmKernels: ReadonlySet<string> = new Set([tf.MaxPoolGrad]);

/** The kernels this module provides. */
export const wasmGradientKernels: readonly tf.KernelConfig[] = (
  [
    [tf.Conv2DBackpropFilter, conv2DBackpropFilter],
    [tf.DepthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropFilter],
    [tf.DepthwiseConv2dNativeBackpropInput, depthwiseConv2dNativeBackpropInput],
    [tf.MaxPoolGrad, maxPoolGrad],
    [tf.UnsortedSegmentSum, unsortedSegmentSum],
  ] as const
).map(([kernelName, kernelFunc]) => ({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc }));

/** Registers these kernels for backend 'wasm' (those it lacks, and the replacements); returns the names registered. */
export function registerWasmGradients(): string[] {
  const registered: string[] = [];
  for (const k of wasmGradientKernels) {
    const current = tf.getKernel(k.kernelName, 'wasm');
    if (current?.kernelFunc === k.kernelFunc || (current && !replacedWasmKernels.has(k.kernelName))) continue;
    if (current) tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
    registered.push(k.kernelName);
  }
  return registered;
}
