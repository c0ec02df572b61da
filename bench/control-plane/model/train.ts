// bench:control-plane's trial: a core-API loop where each unit of length is a sleep, so a trial costs no CPU
// and what the benchmark measures is the control plane and process starts. The hparam `x` sets the loss.
// With the hparam `timing_dir`, each operation's training also appends a line to `<timing_dir>/<allocation>.jsonl`:
// {allocation, start, end} in epoch ms on this machine's clock, so that the benchmark knows when slots trained
// without relying on when the master received a metric (training metrics are sent in batches) or on metrics that
// a promoted trial's re-run supersedes.
import fs from 'node:fs';
import path from 'node:path';
import type { CoreContext } from '@hone/harness';

export default async function train(core: CoreContext): Promise<void> {
  const unitMs = Number(core.hparams.unit_s ?? 0.05) * 1000;
  const x = Number(core.hparams.x ?? 0.5);
  const timingDir = typeof core.hparams.timing_dir === 'string' ? core.hparams.timing_dir : null;
  const allocation = process.env.HONE_ALLOCATION_ID ?? 'unknown';
  let steps = 0;
  for await (const op of core.searcher.operations()) {
    const start = Date.now();
    while (steps < op.length) {
      await new Promise((r) => setTimeout(r, unitMs));
      steps += 1;
      if (steps === 1) core.train.reportTrainingMetrics(steps, { loss: x });
    }
    if (timingDir) fs.appendFileSync(path.join(timingDir, `${allocation}.jsonl`), JSON.stringify({ allocation, start, end: Date.now() }) + '\n');
    const loss = (x - 0.3) ** 2 + 1 / steps;
    await core.train.reportValidationMetrics(steps, { validation_loss: loss });
    await op.reportCompleted(loss);
  }
}
