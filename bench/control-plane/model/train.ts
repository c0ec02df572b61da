// bench:control-plane's trial: a core-API loop where each unit of length is a sleep, so a trial costs no CPU
// and what the benchmark measures is the control plane and process starts. The hparam `x` sets the loss.
import type { CoreContext } from '@hone/harness';

export default async function train(core: CoreContext): Promise<void> {
  const unitMs = Number(core.hparams.unit_s ?? 0.05) * 1000;
  const x = Number(core.hparams.x ?? 0.5);
  let steps = 0;
  for await (const op of core.searcher.operations()) {
    while (steps < op.length) {
      await new Promise((r) => setTimeout(r, unitMs));
      steps += 1;
      if (steps === 1) core.train.reportTrainingMetrics(steps, { loss: x });
    }
    const loss = (x - 0.3) ** 2 + 1 / steps;
    await core.train.reportValidationMetrics(steps, { validation_loss: loss });
    await op.reportCompleted(loss);
  }
}
