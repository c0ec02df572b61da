import { describe, expect, it } from 'vitest';
import { launchFailuresFromHistory, type HistoryEvent } from './launchFailures';

const ev = (from: string | null, to: string, reason: string | null, at: number): HistoryEvent => ({ from, to, reason, at });

describe('launchFailuresFromHistory', () => {
  it('counts refused launches and start time-outs since the latest registration, with the time of the last', () => {
    const h = [
      ev(null, 'requested', 'launch', 1),
      ev('requested', 'launching', null, 2),
      ev('launching', 'idle', 'agent registered', 3),
      ev(null, 'requested', 'launch', 4),
      ev('requested', 'terminated', 'launch-error (capacity): InsufficientInstanceCapacity', 5),
      ev(null, 'requested', 'launch', 6),
      ev('requested', 'launching', null, 7),
      ev('launching', 'terminating', 'start-timeout', 8),
      ev('terminating', 'terminated', null, 9),
    ];
    expect(launchFailuresFromHistory(h)).toEqual({ count: 2, lastAt: 8 });
  });

  it('a registration ends the run; voluntary terminations are not failures', () => {
    const h = [
      ev('requested', 'terminated', 'launch-error (other): boom', 1),
      ev('requested', 'terminated', 'launch-error (capacity): none', 2),
      ev('launching', 'running', 'agent registered', 3),
      ev('idle', 'terminating', 'idle', 4),
      ev('terminating', 'terminated', null, 5),
      ev('launching', 'terminated', 'vanished', 6),
    ];
    expect(launchFailuresFromHistory(h)).toEqual({ count: 0, lastAt: 0 });
    expect(launchFailuresFromHistory(h.slice(0, 2))).toEqual({ count: 2, lastAt: 2 });
    expect(launchFailuresFromHistory([])).toEqual({ count: 0, lastAt: 0 });
  });
});
