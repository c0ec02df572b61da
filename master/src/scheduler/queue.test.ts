import { describe, expect, it } from 'vitest';
import { queueOrder } from './queue';
import { job, makeAgents, snapshot } from './testing';

describe('queueOrder', () => {
  it('lists running then pending work in scheduling order, with reasons', () => {
    const s = snapshot(
      makeAgents(1, 4),
      [
        job('run', 2, { state: 'running', placement: [{ agentId: 'a0000', devices: [0, 1] }], priority: 60 }),
        job('later', 4, { priority: 42 }),
        job('urgent', 2, { priority: 5 }),
        job('odd', 3, { pool: 'tpu' }),
      ],
      { preemption: true },
    );
    const q = queueOrder(s);
    expect(q.map((e) => [e.position, e.allocationId, e.state, e.reason])).toEqual([
      [1, 'run', 'running', 'running'],
      [2, 'urgent', 'pending', 'scheduled'],
      [3, 'later', 'pending', 'waiting for 4 free slots in pool gpu (0 free)'],
      [4, 'odd', 'pending', "no agent in pool 'tpu'"],
    ]);
  });

  it('marks allocations being preempted', () => {
    const s = snapshot(
      makeAgents(1, 2),
      [job('low', 2, { state: 'running', placement: [{ agentId: 'a0000', devices: [0, 1] }], priority: 90 }), job('hi', 2, { priority: 1 })],
      { preemption: true },
    );
    expect(queueOrder(s)[0]).toMatchObject({ allocationId: 'low', reason: 'running (being preempted)', priority: 90, slots: 2 });
  });
});
