// A pre-warmed harness process. The agent starts it ahead of time; it loads TensorFlow.js, the WebAssembly
// backend and the harness, then waits for one `start` message over IPC carrying the task's environment and
// directory, and runs the harness exactly as `main.ts` would. This takes process start-up and module loading
// (seconds on a busy machine) off the path from submit to the first training step.
// Only modules are loaded: no backend is selected and nothing touches a device until the task's environment
// (CUDA_VISIBLE_DEVICES included) is in place. The agent starts it with a trial's basic environment only (never
// its own), and the `start` message carries the task's whole environment, which replaces the process's.
import { runAsProcess } from './main';

interface StartMessage {
  type: 'start';
  env: Record<string, string>;
  cwd: string;
}

await Promise.all([import('@tensorflow/tfjs'), import('@tensorflow/tfjs-backend-wasm')]);
process.send?.({ type: 'ready' });

process.on('message', (msg: StartMessage) => {
  if (msg?.type !== 'start') return;
  for (const k of Object.keys(process.env)) if (!(k in msg.env)) delete process.env[k];
  for (const [k, v] of Object.entries(msg.env)) process.env[k] = v;
  process.chdir(msg.cwd);
  // From here on the process is the task; the agent only watches its output and exit.
  process.removeAllListeners('message');
  process.disconnect?.();
  runAsProcess();
});
// The agent went away before giving us a task: nothing to do.
process.on('disconnect', () => {
  if (!process.env.HONE_ALLOCATION_ID) process.exit(0);
});
