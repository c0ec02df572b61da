// TensorFlow.js backend selection. Order (DESIGN.md): tfjs-node-gpu, tfjs-node (both optional: they download
// libtensorflow at install time, so they are never required), then wasm (ships its .wasm), then the pure-JS cpu backend.
// HONE_TF_BACKEND=<name> forces one (node-gpu | node | tensorflow | wasm | cpu).
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { registerWasmGradients } from './tfjs/wasmGradients';

export interface BackendChoice {
  /** tf.getBackend() after selection: 'tensorflow' (tfjs-node[-gpu]), 'wasm' or 'cpu'. */
  name: string;
  /** Which package provided it. */
  source: string;
}

let chosen: BackendChoice | null = null;

async function tryImport(spec: string): Promise<boolean> {
  try {
    await import(spec);
    return true;
  } catch {
    return false;
  }
}

async function tryNode(pkg: string): Promise<BackendChoice | null> {
  if (!(await tryImport(pkg))) return null;
  if (!(await tf.setBackend('tensorflow'))) return null;
  await tf.ready();
  return { name: 'tensorflow', source: pkg };
}

async function tryWasm(): Promise<BackendChoice | null> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    // The package's main file lives in dist/, next to the .wasm binaries.
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(pathToFileURL(distDir).href + '/');
    // The wasm backend lacks some gradient kernels (Conv2DBackpropFilter among them: no CNN trains without it) and gets
    // MaxPoolGrad wrong; tfjs/wasmGradients.ts supplies them.
    registerWasmGradients();
    if (!(await tf.setBackend('wasm'))) return null;
    await tf.ready();
    return { name: 'wasm', source: '@tensorflow/tfjs-backend-wasm' };
  } catch {
    return null;
  }
}

async function useCpu(): Promise<BackendChoice> {
  await tf.setBackend('cpu');
  await tf.ready();
  return { name: 'cpu', source: '@tensorflow/tfjs (cpu)' };
}

/** Selects (once per process) the best available backend, or the one HONE_TF_BACKEND names. */
export async function selectBackend(override = process.env.HONE_TF_BACKEND, log: (line: string) => void = console.log): Promise<BackendChoice> {
  if (chosen) {
    // A reused process (warm.ts) keeps the backend an earlier trial of its experiment chose: every trial says which.
    log(`backend: ${chosen.name} (${chosen.source})`);
    return chosen;
  }
  const want = override?.trim().toLowerCase();
  let choice: BackendChoice | null = null;
  if (want) {
    if (want === 'node-gpu' || want === 'gpu') choice = await tryNode('@tensorflow/tfjs-node-gpu');
    else if (want === 'node' || want === 'tensorflow') choice = (await tryNode('@tensorflow/tfjs-node-gpu')) ?? (await tryNode('@tensorflow/tfjs-node'));
    else if (want === 'wasm') choice = await tryWasm();
    else if (want === 'cpu') choice = await useCpu();
    else throw new Error(`HONE_TF_BACKEND=${override}: expected one of node-gpu, node, wasm, cpu`);
    if (!choice) throw new Error(`HONE_TF_BACKEND=${override}: that backend is not available in this environment`);
  } else {
    choice = (await tryNode('@tensorflow/tfjs-node-gpu')) ?? (await tryNode('@tensorflow/tfjs-node')) ?? (await tryWasm()) ?? (await useCpu());
  }
  chosen = choice;
  log(`backend: ${choice.name} (${choice.source})`);
  return choice;
}
