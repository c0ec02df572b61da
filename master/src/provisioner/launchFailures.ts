// Launch failures in a row, for the provisioner's back-off (decide() waits launchBackoff(count) after the last
// one): derived from a pool's instance history, so a restarted master keeps backing off where the previous one
// was instead of launching at once into the same capacity error. Pure; the reconciler reads the history.
//
// A failure is a launch the cloud refused (the row terminated with reason `launch-error ...`) or an instance that
// never registered within max_starting_period (moved to terminating with reason `start-timeout`). An instance
// whose agent registered (launching -> running | idle) ends the run of failures, as it does in the reconciler.

export interface HistoryEvent {
  from: string | null;
  to: string;
  reason: string | null;
  /** ms since epoch */
  at: number;
}

export interface LaunchFailures {
  count: number;
  lastAt: number;
}

export function isLaunchFailure(e: Pick<HistoryEvent, 'to' | 'reason'>): boolean {
  return (e.to === 'terminated' && !!e.reason?.startsWith('launch-error')) || (e.to === 'terminating' && e.reason === 'start-timeout');
}

export function isRegistration(e: Pick<HistoryEvent, 'from' | 'to'>): boolean {
  return e.from === 'launching' && (e.to === 'running' || e.to === 'idle');
}

/** Failures since the latest registration, from a pool's history in the order it was written. */
export function launchFailuresFromHistory(events: HistoryEvent[]): LaunchFailures {
  let f: LaunchFailures = { count: 0, lastAt: 0 };
  for (const e of events) {
    if (isRegistration(e)) f = { count: 0, lastAt: 0 };
    else if (isLaunchFailure(e)) f = { count: f.count + 1, lastAt: Math.max(f.lastAt, e.at) };
  }
  return f;
}
