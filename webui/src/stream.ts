// One shared WebSocket to /api/v1/stream. Components subscribe to topics; the connection re-subscribes
// and tells everyone to refetch after it reconnects (with exponential backoff), so a master restart heals by itself.
// The user token goes in `?token=` (browsers cannot set headers on a WebSocket). While the login form is up the
// stream is paused; after a login it connects again with the new token.
import type { ExperimentSummary, MetricPoint, TaskLog, TrialSummary } from '@hone/protocol';
import { api, getToken } from './api';

export type StreamMessage =
  | { topic: string; type: 'experiment'; experiment: ExperimentSummary }
  | { topic: string; type: 'trial'; trial: TrialSummary }
  | { topic: string; type: 'metrics'; trialId: number; group: 'training' | 'validation'; points: MetricPoint[] }
  | { topic: string; type: 'log'; log: TaskLog }
  | { topic: 'cluster'; type: 'cluster' };

type Handler = (m: StreamMessage) => void;
type StatusListener = (s: StreamStatus) => void;
export type StreamStatus = 'connecting' | 'open' | 'closed';

class Stream {
  private ws: WebSocket | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private reconnectListeners = new Set<() => void>();
  private statusListeners = new Set<StatusListener>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private everOpened = false;
  private paused = false;
  private lastProbe = 0;
  status: StreamStatus = 'closed';

  subscribe(topic: string, h: Handler): () => void {
    let set = this.handlers.get(topic);
    const isNew = !set;
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(h);
    this.ensure();
    if (isNew && this.ws?.readyState === WebSocket.OPEN) this.send({ type: 'subscribe', topics: [topic] });
    return () => {
      const s = this.handlers.get(topic);
      if (!s) return;
      s.delete(h);
      if (s.size === 0) {
        this.handlers.delete(topic);
        if (this.ws?.readyState === WebSocket.OPEN) this.send({ type: 'unsubscribe', topics: [topic] });
      }
    };
  }

  /** Called after a reconnect (not the first connect): callers refetch what they may have missed. */
  onReconnect(l: () => void): () => void {
    this.reconnectListeners.add(l);
    return () => this.reconnectListeners.delete(l);
  }

  /**
   * Closes the socket and stays closed (the login form is up: the old token is no good). The next connection
   * is a first one, not a reconnect: the pages that subscribe after the login load their data anyway.
   */
  pause(): void {
    this.paused = true;
    this.everOpened = false;
    this.drop();
    this.setStatus('closed');
  }

  /** Drops the connection and reconnects at once (after a login, so the socket carries the new token). */
  reconnectNow(): void {
    this.paused = false;
    this.attempt = 0;
    this.drop();
    if (this.handlers.size) this.connect();
  }

  /** Closes the socket and cancels a pending reconnect, without the close counting as a lost connection. */
  private drop(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }

  onStatus(l: StatusListener): () => void {
    this.statusListeners.add(l);
    l(this.status);
    return () => this.statusListeners.delete(l);
  }

  private setStatus(s: StreamStatus): void {
    this.status = s;
    for (const l of this.statusListeners) l(s);
  }

  private send(msg: unknown): void {
    try {
      this.ws?.send(JSON.stringify(msg));
    } catch {
      /* closed between the check and the send; the reconnect re-subscribes */
    }
  }

  private ensure(): void {
    if (this.ws || this.timer || this.paused) return;
    this.connect();
  }

  private connect(): void {
    this.timer = null;
    if (this.paused) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = getToken();
    const url = `${proto}//${location.host}/api/v1/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
    this.setStatus('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setStatus('open');
      const topics = [...this.handlers.keys()];
      if (topics.length) this.send({ type: 'subscribe', topics });
      if (reconnected) for (const l of this.reconnectListeners) l();
    };
    ws.onmessage = (ev) => {
      let msg: StreamMessage;
      try {
        msg = JSON.parse(String(ev.data)) as StreamMessage;
      } catch {
        return;
      }
      const set = this.handlers.get(msg.topic);
      if (set) for (const h of [...set]) h(msg);
    };
    ws.onclose = () => {
      if (this.ws === ws) {
        this.ws = null;
        this.setStatus('closed');
        if (!opened) this.probeAuth();
        this.scheduleReconnect();
      }
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  /**
   * A refused upgrade looks the same as a master that is down (the browser hides the 401). One cheap REST call
   * tells them apart: a 401 there brings the login form (api.ts); anything else is ignored. At most every 10 s.
   */
  private probeAuth(): void {
    if (!getToken() || Date.now() - this.lastProbe < 10_000) return;
    this.lastProbe = Date.now();
    api('/auth/me').catch(() => undefined);
  }

  private scheduleReconnect(): void {
    if (this.timer || this.paused) return;
    // 0.5 s, 1 s, 2 s … capped at 10 s, with jitter so many tabs don't reconnect in lockstep.
    const base = Math.min(10_000, 500 * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

export const stream = new Stream();
