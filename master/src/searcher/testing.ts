// Test helpers: a minimal driver that answers a searcher's actions, used by the unit tests.
import type { SearcherConfig } from '@hone/protocol';
import type { SearcherAction, SearcherEvent, SearcherState } from './types';

export function searcherConfig(over: Partial<SearcherConfig>): SearcherConfig {
  return {
    name: 'random',
    metric: 'loss',
    smaller_is_better: true,
    max_length: { unit: 'batches', value: 100 },
    max_trials: 4,
    max_concurrent_trials: 0,
    num_rungs: 3,
    divisor: 4,
    max_rungs: 5,
    mode: 'standard',
    stop_once: false,
    sampler: 'random',
    ...over,
  };
}

export const kinds = (actions: SearcherAction[]): string[] => actions.map((a) => (a.kind === 'shutdown' ? 'shutdown' : `${a.kind}:${a.requestId}`));

/** Round-trips state through JSON, as the master does when it saves and restores it. */
export const roundTrip = <S extends SearcherState>(s: S): S => JSON.parse(JSON.stringify(s)) as S;

/** The events a trial emits for an action (created; validation at the trained length; exit after a stop). */
export function eventsFor(a: SearcherAction, metric: (id: string, length: number) => number): SearcherEvent[] {
  switch (a.kind) {
    case 'create':
      return [{ kind: 'trialCreated', requestId: a.requestId }];
    case 'train':
      return [{ kind: 'validationCompleted', requestId: a.requestId, length: a.length, metric: metric(a.requestId, a.length) }];
    case 'stop':
      return [{ kind: 'trialExited', requestId: a.requestId, reason: 'completed' }];
    default:
      return [];
  }
}
