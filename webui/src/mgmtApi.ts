// The experiment-management calls the pages make (issue 16; routes in API-MGMT.md), in one place.
import type {
  ContinueTrialBody,
  CreateModelBody,
  CreateProjectBody,
  ExperimentSummary,
  ForkExperimentBody,
  ModelVersion,
  PatchExperimentBody,
  RegisterModelVersionBody,
  RunSummary,
  TrialSummary,
} from '@hone/protocol';
import { api } from './api';

export type { RunSummary };

const enc = encodeURIComponent;

export const forkExperiment = (id: number, body: ForkExperimentBody) => api<ExperimentSummary>(`/experiments/${id}/fork`, { method: 'POST', json: body });
export const continueTrial = (id: number, body: ContinueTrialBody) => api<ExperimentSummary>(`/trials/${id}/continue`, { method: 'POST', json: body });
export const killTrial = (id: number) => api<TrialSummary>(`/trials/${id}/kill`, { method: 'POST' });
export const archiveExperiment = (id: number, archived: boolean) => api<ExperimentSummary>(`/experiments/${id}/${archived ? 'archive' : 'unarchive'}`, { method: 'POST' });
export const patchExperiment = (id: number, body: PatchExperimentBody) => api<ExperimentSummary>(`/experiments/${id}`, { method: 'PATCH', json: body });
export const addLabel = (id: number, label: string) => api<ExperimentSummary>(`/experiments/${id}/labels`, { method: 'POST', json: { label } });
export const removeLabel = (id: number, label: string) => api<ExperimentSummary>(`/experiments/${id}/labels/${enc(label)}`, { method: 'DELETE' });
export const deleteExperiment = (id: number) => api<unknown>(`/experiments/${id}`, { method: 'DELETE' });
export const createProject = (body: CreateProjectBody) => api<unknown>('/projects', { method: 'POST', json: body });
export const createModel = (body: CreateModelBody) => api<unknown>('/models', { method: 'POST', json: body });
export const registerVersion = (model: string, body: RegisterModelVersionBody) => api<ModelVersion>(`/models/${enc(model)}/versions`, { method: 'POST', json: body });

export interface RunsFilter {
  project?: string;
  states: string[];
  hparam?: string;
  hparamMin?: number;
  hparamMax?: number;
  metric?: string;
  metricMin?: number;
  metricMax?: number;
  archived: boolean;
  sort: string;
  order: 'asc' | 'desc';
}

/** GET /runs with the filters (offset and limit are added per window). */
export function runsPath(f: RunsFilter): string {
  const q = new URLSearchParams({ sort: f.sort, order: f.order });
  if (f.project) q.set('project', f.project);
  if (f.states.length) q.set('state', f.states.join(','));
  // `name:min:max`, either bound may be empty; a name without bounds filters nothing yet (it is being typed).
  const range = (name: string, min?: number, max?: number) => (min === undefined && max === undefined ? null : `${name}:${min ?? ''}:${max ?? ''}`);
  const hp = f.hparam ? range(f.hparam, f.hparamMin, f.hparamMax) : null;
  const metric = f.metric ? range(f.metric, f.metricMin, f.metricMax) : null;
  if (hp) q.set('hp', hp);
  if (metric) q.set('metric', metric);
  if (f.archived) q.set('archived', 'all');
  return `/runs?${q}`;
}
