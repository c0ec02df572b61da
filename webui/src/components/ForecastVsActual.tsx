// Predicted vs actual progress of a running experiment: on request, the master forecasts the experiment's own
// config on its pool, with the time per unit profiled from its furthest-trained trial, and the page compares the
// forecast's progress at the experiment's age with the progress it really made.
import { useState } from 'react';
import type { ExperimentDetail, Forecast } from '@hone/protocol';
import { formatSeconds } from '@hone/protocol/format';
import { api } from '../api';

/** The forecast's progress (0..1) at `t` seconds, from its timeline. */
export function progressAt(timeline: Forecast['timeline'], t: number): number {
  let p = 0;
  for (const point of timeline) {
    if (point.t > t) break;
    p = point.progress;
  }
  return p;
}

export function ForecastVsActual({ exp }: { exp: ExperimentDetail }) {
  const [f, setF] = useState<Forecast | null>(null);
  const [error, setError] = useState<string | null>(null);
  const profile = [...exp.trials].filter((t) => t.completedLength > 0).sort((a, b) => b.completedLength - a.completedLength)[0];
  if (!profile) return null;
  const load = async () => {
    setError(null);
    try {
      setF(await api<Forecast>('/experiments/forecast', { method: 'POST', json: { config: exp.configYaml, pool: exp.resourcePool, profile_trial_id: profile.id } }));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const age = ((exp.endTime ? Date.parse(exp.endTime) : Date.now()) - Date.parse(exp.startTime)) / 1000;
  return (
    <div className="forecast-vs-actual" data-testid="forecast-vs-actual">
      {!f && (
        <button className="btn" data-testid="forecast-compare" onClick={() => void load()}>
          Compare with forecast
        </button>
      )}
      {error && <span className="muted">forecast unavailable: {error}</span>}
      {f && (
        <span data-testid="forecast-comparison">
          forecast: {formatSeconds(f.wallClockSeconds)} in all, {(progressAt(f.timeline, age) * 100).toFixed(0)}% by now · actual: {(exp.progress * 100).toFixed(0)}% after {formatSeconds(age)}
          <span className="muted"> (time per unit from trial {profile.id})</span>
        </span>
      )}
    </div>
  );
}
