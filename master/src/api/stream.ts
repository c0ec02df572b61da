// One WebSocket for live updates to the UI (and CLI): subscribe to topics, receive changes as they happen.
// Topics: 'experiments', 'experiment:<id>', 'trial:<id>', 'logs:<trialId>', 'cluster'.
import type { App, MasterContext } from '../context';
import type { FastifyRequest } from 'fastify';
import { AGENT_CLOSE_CODES } from '@hone/protocol/errors';
import type { HoneEvent } from '../events';

/** Bounds on what one stream connection may ask for. */
const MAX_STREAM_TOPICS = 1000;
const MAX_STREAM_MESSAGE_BYTES = 64 * 1024;

function topicsOf(e: HoneEvent): string[] {
  switch (e.type) {
    case 'experiment':
      return ['experiments', `experiment:${e.experiment.id}`];
    case 'trial':
      return [`experiment:${e.trial.experimentId}`, `trial:${e.trial.id}`];
    case 'metrics':
      return [`experiment:${e.experimentId}`, `trial:${e.trialId}`];
    case 'log':
      return [`logs:${e.log.trialId}`];
    case 'cluster':
      return ['cluster'];
    default:
      return [];
  }
}

export function registerStreamRoutes(app: App, ctx: MasterContext): void {
  app.get('/api/v1/stream', { websocket: true, config: { queryToken: true }, schema: { hide: true } }, (socket: any, req: FastifyRequest) => {
    const topics = new Set<string>();
    // The session that opened the stream must stay valid: a logout, a revoked token or a deactivated user ends it.
    const token = String((req.query as Record<string, unknown>).token ?? '') || (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    const recheck = ctx.bus.subscribe((e) => {
      if (e.type !== 'credentials') return;
      ctx.userAuth.identify(token).catch(() => socket.close(AGENT_CLOSE_CODES.UNAUTHENTICATED, 'the session ended; sign in again'));
    });
    let clusterTimer: NodeJS.Timeout | null = null;
    const send = (o: unknown) => {
      if (socket.readyState === socket.OPEN && socket.bufferedAmount < 8 * 1024 * 1024) socket.send(JSON.stringify(o));
    };
    const unsub = ctx.bus.subscribe((e) => {
      for (const t of topicsOf(e)) {
        if (!topics.has(t)) continue;
        if (e.type === 'cluster') {
          // coalesce bursts of cluster changes into one hint per 250 ms
          if (!clusterTimer) clusterTimer = setTimeout(() => ((clusterTimer = null), send({ topic: 'cluster', type: 'cluster' })), 250);
          continue;
        }
        const { type, ...rest } = e as any;
        send({ topic: t, type, ...rest });
      }
    });
    socket.on('message', (data: Buffer) => {
      if (data.length > MAX_STREAM_MESSAGE_BYTES) {
        socket.close(1009, `messages are limited to ${MAX_STREAM_MESSAGE_BYTES} bytes`);
        return;
      }
      try {
        const msg = JSON.parse(String(data));
        if (msg.type === 'subscribe' && Array.isArray(msg.topics)) {
          const wanted = msg.topics.map((t: unknown) => String(t)).filter((t: string) => t.length <= 64);
          if (topics.size + wanted.length > MAX_STREAM_TOPICS) {
            send({ type: 'error', message: `at most ${MAX_STREAM_TOPICS} topics per connection; unsubscribe from some first` });
            return;
          }
          for (const t of wanted) topics.add(t);
        }
        if (msg.type === 'unsubscribe' && Array.isArray(msg.topics)) for (const t of msg.topics) topics.delete(String(t));
        if (msg.type === 'ping') send({ type: 'pong' });
      } catch {
        send({ type: 'error', message: 'messages must be JSON' });
      }
    });
    socket.on('close', () => {
      unsub();
      recheck();
      if (clusterTimer) clearTimeout(clusterTimer);
    });
  });
}
