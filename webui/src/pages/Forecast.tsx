// The estimate step: paste an experiment config, pick a pool (or a number of slots) and the time per unit (or a
// trial to profile), and see how long it will take and what it will cost (POST /experiments/forecast), with the
// forecast's timeline of instances and busy slots.
import { useEffect, useState } from 'react';
import { api } from '../api';
import { markReady } from '../hooks';
import { LineChart } from '../components/LineChart';
import type { Forecast } from '@hone/protocol';
import { formatSeconds } from '@hone/protocol/format';
import './forecast.css';



export function ForecastPage() {
  const [config, setConfig] = useState('');
  const [target, setTarget] = useState<'pool' | 'slots'>('pool');
  const [pool, setPool] = useState('');
  const [slots, setSlots] = useState('4');
  const [timing, setTiming] = useState<'seconds' | 'profile'>('seconds');
  const [seconds, setSeconds] = useState('1');
  const [trial, setTrial] = useState('');
  const [result, setResult] = useState<Forecast | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => markReady(), []);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { config };
      if (target === 'pool' && pool) body.pool = pool;
      if (target === 'slots') body.slots = Number(slots);
      if (timing === 'seconds') body.seconds_per_unit = Number(seconds);
      else body.profile_trial_id = Number(trial);
      setResult(await api<Forecast>('/experiments/forecast', { method: 'POST', json: body }));
    } catch (e) {
      setResult(null);
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page" data-testid="forecast-page">
      <div className="page-head">
        <h1>Estimate an experiment</h1>
      </div>
      <p className="muted">
        The master runs the experiment&apos;s searcher, the scheduler and the pool&apos;s provisioner on a simulated clock: nothing is submitted.
      </p>
      <div className="card forecast-form">
        <label>
          Experiment config (YAML)
          <textarea data-testid="forecast-config" rows={14} value={config} onChange={(e) => setConfig(e.target.value)} spellCheck={false} />
        </label>
        <div className="forecast-options">
          <label>
            <input type="radio" checked={target === 'pool'} onChange={() => setTarget('pool')} /> pool
            <input data-testid="forecast-pool" placeholder="resources.resource_pool" value={pool} onChange={(e) => setPool(e.target.value)} disabled={target !== 'pool'} />
          </label>
          <label>
            <input type="radio" checked={target === 'slots'} onChange={() => setTarget('slots')} /> slots
            <input data-testid="forecast-slots" type="number" min={1} value={slots} onChange={(e) => setSlots(e.target.value)} disabled={target !== 'slots'} />
          </label>
          <label>
            <input type="radio" checked={timing === 'seconds'} onChange={() => setTiming('seconds')} /> seconds per unit
            <input data-testid="forecast-seconds" type="number" min={0} step="any" value={seconds} onChange={(e) => setSeconds(e.target.value)} disabled={timing !== 'seconds'} />
          </label>
          <label>
            <input type="radio" checked={timing === 'profile'} onChange={() => setTiming('profile')} /> profile trial
            <input data-testid="forecast-trial" type="number" min={1} value={trial} onChange={(e) => setTrial(e.target.value)} disabled={timing !== 'profile'} />
          </label>
          <button className="btn primary" data-testid="forecast-run" disabled={busy || !config.trim()} onClick={() => void run()}>
            {busy ? 'Estimating…' : 'Estimate'}
          </button>
        </div>
      </div>
      {error && <div className="error-box" data-testid="forecast-error">{error}</div>}
      {result && (
        <div className="card" data-testid="forecast-result">
          <div className="pool-stats">
            <span>
              <b data-testid="forecast-wallclock">{formatSeconds(result.wallClockSeconds)}</b> wall-clock
            </span>
            <span>
              <b>{result.trials}</b> trials
            </span>
            <span>
              <b>{result.slotHours.toFixed(2)}</b> slot-hours ({(result.slotUtilization * 100).toFixed(0)}% busy)
            </span>
            {result.poolKind === 'provisioned' && (
              <>
                <span>
                  <b>{result.instanceHours.toFixed(2)}</b> instance-hours
                </span>
                <span>
                  <b>{result.peakInstances}</b> peak instances
                </span>
              </>
            )}
            <span>
              <b data-testid="forecast-cost">{result.cost === null ? '—' : result.cost.toFixed(2)}</b> cost
            </span>
          </div>
          <p className="muted">
            On {result.pool}; {result.timing.secondsPerUnit.toPrecision(3)} s per unit from {result.timing.source}, {result.timing.startupSeconds.toFixed(1)} s start-up and {result.timing.exitSeconds.toFixed(1)} s exit per trial run,{' '}
            {result.timing.validationSeconds.toFixed(2)} s per validation, {result.timing.checkpointSeconds.toFixed(2)} s per checkpoint.
          </p>
          <LineChart
            testId="forecast-chart"
            height={220}
            highlighted={null}
            xLabel="seconds"
            series={[
              { id: 1, label: 'busy slots', xs: result.timeline.map((p) => p.t), ys: result.timeline.map((p) => p.busySlots), color: '#2f7ed8' },
              { id: 2, label: 'slots', xs: result.timeline.map((p) => p.t), ys: result.timeline.map((p) => p.slots), color: '#8bbc21' },
              { id: 3, label: 'waiting trials', xs: result.timeline.map((p) => p.t), ys: result.timeline.map((p) => p.pendingGangs), color: '#c42525' },
            ]}
          />
        </div>
      )}
    </div>
  );
}
