// Ending the harness process without losing what it wrote last. `process.exit()` drops writes still queued on a
// pipe: stdout and stderr are asynchronous on POSIX when they are pipes (a Kubernetes pod's ranks, under
// podEntry.ts), synchronous when they are files (ranks under the agent). So the harness exits once both have
// flushed, or after `fallbackMs` when nobody reads them.
let exiting = false;

/** Whether the process is on its way out (exitAfterFlush was called). */
export function isExiting(): boolean {
  return exiting;
}

/** Exits with `code` once stdout and stderr have flushed; later calls are ignored (the first reason wins). */
export function exitAfterFlush(code: number, fallbackMs = 5000): void {
  if (exiting) return;
  exiting = true;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  setTimeout(() => process.exit(code), fallbackMs);
  process.stdout.write('', done);
  process.stderr.write('', done);
}
