// What `experiment describe` and `trial describe` print: pure functions from the master's answers to text.
import type { AllocationSummary, ExperimentDetail, TrialDetail, TrialSummary } from '@hone/protocol/api';
import type { AuditEntry } from '@hone/protocol/auth';
import type { ExperimentConfig } from '@hone/protocol/config';
import { formatClockDuration, formatHParams, formatKiB, formatPercent, formatTableNumber, formatUtcTime } from '@hone/protocol/format';
import { table } from './output';

/** The unit trial lengths are counted in: max_length's (batches, epochs, records), or max_time's metric. */
export function lengthUnit(config: ExperimentConfig): string {
  return config.searcher.max_length?.unit ?? config.searcher.time_metric ?? '';
}

/** Length trained so far over the length asked for. A master older than trainedLength reports only completedLength. */
function lengthOf(t: TrialSummary): string {
  return `${Math.max(t.trainedLength ?? 0, t.completedLength)}/${t.targetLength}`;
}

/** One line per trial whose last failed run left a reason: the state, the restarts so far, and why. */
function failureLines(trials: TrialSummary[]): string[] {
  return trials.filter((t) => t.failure).map((t) => `  Trial ${t.id} (${t.state}, ${t.restarts} restart${t.restarts === 1 ? '' : 's'}): ${t.failure}`);
}

export function describeExperiment(d: ExperimentDetail): string {
  const unit = lengthUnit(d.config);
  const out = [
    `Experiment ${d.id}: ${d.name}`,
    `  Owner:     ${d.user}`,
    `  State:     ${d.state}    Progress: ${formatPercent(d.progress)}`,
    ...(d.deleteError ? [`  Deletion failed: ${d.deleteError} (run \`hone experiment delete ${d.id}\` again to retry)`] : []),
    `  Searcher:  ${d.searcher} (metric ${d.metric}, ${d.smallerIsBetter ? 'smaller' : 'larger'} is better)    Best: ${formatTableNumber(d.bestMetric)}`,
    `  Resources: pool ${d.resourcePool}, ${d.config.resources.slots_per_trial} slot(s) per trial, priority ${d.priority}, weight ${d.weight}${d.maxSlots ? `, max_slots ${d.maxSlots}` : ''}`,
    `  Started:   ${formatUtcTime(d.startTime)}    Duration: ${formatClockDuration(d.startTime, d.endTime)}`,
  ];
  // Masters before experiment management answered without these fields.
  if (d.project !== undefined) out.splice(2, 0, `  Project:   ${d.project}${d.archived ? '    (archived)' : ''}`);
  if (d.description) out.push(`  Description: ${d.description}`);
  if (d.labels.length) out.push(`  Labels:    ${d.labels.join(', ')}`);
  if (d.forkedFrom) out.push(`  Forked from: experiment ${d.forkedFrom}`);
  if (d.sourceTrialId || d.sourceCheckpointUuid) {
    const from = [d.sourceTrialId ? `trial ${d.sourceTrialId}` : '', d.sourceCheckpointUuid ? `checkpoint ${d.sourceCheckpointUuid}` : ''].filter(Boolean);
    out.push(`  Starts from: ${from.join(', ')}`);
  }
  if (d.notes) out.push('', 'Notes:', ...d.notes.split('\n').map((l) => `  ${l}`));
  if (d.rungs) {
    out.push('', 'Rungs:');
    out.push(
      table(
        ['Bracket', 'Rung', 'Length', 'Trials reached', 'Promoted', 'Best'],
        d.rungs.map((r, i) => [r.bracket ?? 0, r.rung ?? i, r.length, r.trials, r.promoted ?? '', formatTableNumber(r.best)]),
      ),
    );
  }
  out.push('', 'Trials:');
  out.push(
    table(
      ['Trial', 'State', 'Hyperparameters', unit ? `Length (${unit})` : 'Length', 'Best validation', 'Restarts', 'Latest checkpoint'],
      d.trials.map((t) => [t.id, t.state, formatHParams(t.hparams), lengthOf(t), formatTableNumber(t.bestValidation), t.restarts, t.latestCheckpoint ?? '']),
    ),
  );
  const failures = failureLines(d.trials);
  if (failures.length) out.push('', 'Failures:', ...failures);
  // Masters before the audit log answered without `audit`.
  if (d.audit?.length) {
    out.push('', 'Activity (oldest first):');
    out.push(table(['When (UTC)', 'User', 'Action', 'Details'], d.audit.map((e) => [formatUtcTime(e.at), e.username, e.action, auditDetails(e)])));
  }
  return out.join('\n');
}

/** An audit entry's details on one line: `from 42 to 10` for a changed setting, else `key=value` pairs. */
export function auditDetails(e: AuditEntry): string {
  const { from, to, ...rest } = e.details ?? {};
  const word = (v: unknown) => (v === null || v === undefined ? 'none' : typeof v === 'string' ? v : JSON.stringify(v));
  const setting = from !== undefined || to !== undefined ? [`from ${word(from)} to ${word(to)}`] : [];
  return [...setting, ...(Object.keys(rest).length ? [formatHParams(rest)] : [])].join(', ');
}

/** How a run ended, in a few words: the master's exit reason, else its exit code or its state while it lives. */
function runEnd(a: AllocationSummary): string {
  const how = a.exitReason ?? (a.exitCode !== null ? `exit code ${a.exitCode}` : a.state);
  return a.failed ? `${how} (failed)` : how;
}

export function describeTrial(t: TrialDetail, unit: string): string {
  const progress = t.targetLength > 0 ? ` (${formatPercent(Math.max(t.trainedLength ?? 0, t.completedLength) / t.targetLength)})` : '';
  const out = [
    `Trial ${t.id} (experiment ${t.experimentId}): ${t.state}`,
    `  Hyperparameters: ${formatHParams(t.hparams)}`,
    `  Length: ${lengthOf(t)}${unit ? ` ${unit}` : ''}${progress}    Restarts: ${t.restarts}    Best validation: ${formatTableNumber(t.bestValidation)}`,
  ];
  if (t.latestValidation) out.push(`  Latest validation: ${formatHParams(t.latestValidation)}`);
  if (t.failure) out.push(`  Failure: ${t.failure}`);
  if (t.sourceCheckpointUuid) out.push(`  Started from: checkpoint ${t.sourceCheckpointUuid}${t.sourceTrialId ? ` of trial ${t.sourceTrialId}` : ''}`);
  const r = t.reproducibility;
  if (r) {
    const devices = r.devices.map((d) => `${d.agentId}:${d.type}${d.id} (${d.brand})`).join(', ');
    out.push(
      '',
      'Reproducibility (latest run):',
      `  Model directory: ${r.contextDigest ? `sha256:${r.contextDigest}` : '(none uploaded)'}`,
      `  Seed: ${r.seed}    Hyperparameters: ${formatHParams(r.hparams)}`,
      `  Harness: ${r.harnessVersion ?? '?'}    TensorFlow.js: ${r.tfjsVersion ?? '?'}    Backend: ${r.backend ?? '?'}    Node.js: ${r.nodeVersion ?? '?'}`,
      `  Agents and devices: ${devices || r.placement.map((p) => p.agentId).join(', ')}`,
      `  Recorded: ${formatUtcTime(r.recordedAt)} (allocation ${r.allocationId}); the config as run is in --json (reproducibility.configYaml)`,
    );
  }
  out.push('', 'Checkpoints:');
  out.push(
    table(
      ['UUID', 'Steps', 'Files', 'Size', 'Validation'],
      t.checkpoints.map((c) => [c.uuid, c.stepsCompleted, Object.keys(c.resources).length, formatKiB(Object.values(c.resources).reduce((a, b) => a + b, 0)), formatTableNumber(c.validationMetric)]),
    ),
  );
  // Masters before the restart history answered without `allocations`.
  const runs = t.allocations ?? [];
  if (runs.length) {
    out.push('', 'Runs (restart history, oldest first):');
    out.push(
      table(
        ['Run', 'Started', 'Duration', 'Agents', 'Slots', 'Ended', 'Last error'],
        runs.map((a, i) => [
          i + 1,
          formatUtcTime(a.startedAt ?? a.createdAt),
          a.startedAt ? formatClockDuration(a.startedAt, a.endedAt) : '',
          a.agents.join(', '),
          a.slots,
          runEnd(a),
          a.lastError?.replace(/\s*\n\s*/g, ' ') ?? '',
        ]),
      ),
    );
  }
  return out.join('\n');
}
