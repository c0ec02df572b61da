// The one "wait on the bus, then re-read" loop behind every long-poll of the API (logs, searcher operations,
// preemption, rendezvous): read; while not ready and time is left, wait for a matching event (or a slice of
// time, so that a missed event costs at most one slice), then read again. A client that hangs up ends the wait.
import type { FastifyReply } from 'fastify';
import type { EventBus, HoneEvent } from '../events';

export interface LongPoll<T> {
  read: () => Promise<T>;
  ready: (value: T) => boolean;
  /** Events that may have changed what `read` returns. */
  wake: (e: HoneEvent) => boolean;
  waitMs: number;
  /** Longest single wait before reading again without an event. Default: all of `waitMs`. */
  sliceMs?: number;
}

export async function longPoll<T>(bus: EventBus, reply: FastifyReply, p: LongPoll<T>): Promise<T> {
  let value = await p.read();
  if (p.ready(value) || p.waitMs <= 0) return value;
  const ac = new AbortController();
  const onClose = () => ac.abort();
  reply.raw.on('close', onClose);
  try {
    const deadline = Date.now() + p.waitMs;
    while (!p.ready(value) && !ac.signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await bus.waitFor(p.wake, Math.min(p.sliceMs ?? left, left), ac.signal);
      value = await p.read();
    }
    return value;
  } finally {
    reply.raw.off('close', onClose);
  }
}
