import type { ExperimentDetail } from '@hone/protocol';
import { TERMINAL_EXPERIMENT_STATES } from '@hone/protocol';
import { api, waitFor } from './processes';

export async function waitForExperimentEnd(url: string, id: number, timeoutMs = 240_000): Promise<ExperimentDetail> {
  return waitFor(
    `experiment ${id} to end`,
    async () => {
      const r = await api<ExperimentDetail>(url, 'GET', `/experiments/${id}`);
      return TERMINAL_EXPERIMENT_STATES.includes(r.body.state) ? r.body : null;
    },
    timeoutMs,
    500,
  );
}
