// Ranks of one trial must compute with the same TensorFlow.js backend; checked once, before training starts.
import type { Collectives } from './collectives';

/**
 * Fails on every rank unless all ranks run the same TensorFlow.js backend: gradients from different kernels
 * (tfjs-node's libtensorflow, wasm, cpu) differ in their last bits, so replicas would drift apart.
 */
export async function requireSameBackend(distributed: Collectives, backend: string): Promise<void> {
  if (distributed.size === 1) return;
  const all = await distributed.allgather(backend);
  if (all.every((b) => b === all[0])) return;
  const list = all.map((b, rank) => `rank ${rank}: ${b}`).join(', ');
  throw new Error(
    `the ranks of one trial must use the same TensorFlow.js backend, but ${list}; install the same backend packages on every agent, or pin one with environment.variables.HONE_TF_BACKEND in the experiment config`,
  );
}
