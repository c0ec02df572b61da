import { it, expect } from 'vitest';
import { FrameParser, SUNK, encodeHeader, type PayloadSink } from './framing';
it('parses byte by byte', () => {
  const frames: [number, number, number, number][] = [];
  const p = new FrameParser((t, o, s, b) => frames.push([t, o, s, b.length]));
  const payload = Buffer.alloc(1000, 7);
  const stream = Buffer.concat([encodeHeader(2, 5, 1, 1000), payload, encodeHeader(2, 5, 2, 0), encodeHeader(2, 6, 0, 3), Buffer.from('abc')]);
  for (const cut of [1, 3, 7, 16, 17, 64, 5000]) {
    frames.length = 0;
    for (let i = 0; i < stream.length; i += cut) p.push(stream.subarray(i, i + cut));
    expect(frames).toEqual([[2, 5, 1, 1000], [2, 5, 2, 0], [2, 6, 0, 3]]);
  }
});

it('reads a payload into the buffer the provider names, whole or in pieces', () => {
  const payload = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
  const stream = Buffer.concat([encodeHeader(2, 9, 3, 64), payload, encodeHeader(2, 9, 4, 64), payload]);
  for (const cut of [5, 16, 200]) {
    const target = Buffer.alloc(64);
    const got: Buffer[] = [];
    const p = new FrameParser(
      (_t, _o, step, b) => got.push(b),
      (_t, _o, step, len) => (step === 3 && len === 64 ? target : undefined),
    );
    for (let i = 0; i < stream.length; i += cut) p.push(stream.subarray(i, i + cut));
    expect(got[0]).toBe(target);
    expect(target.equals(payload)).toBe(true);
    expect(got[1]).not.toBe(target);
    expect(got[1].equals(payload)).toBe(true);
  }
});

it('hands a payload to a sink piece by piece, in push and in pull (onread) mode', () => {
  const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff));
  const stream = Buffer.concat([encodeHeader(2, 1, 0, payload.length), payload, encodeHeader(2, 1, 1, 3), Buffer.from('xyz')]);
  const makeSink = (received: Buffer[]): PayloadSink => {
    let area = Buffer.alloc(0);
    return {
      readBuffer: (max) => (area = Buffer.alloc(Math.min(max, 40_000))),
      onRead: (n) => received.push(Buffer.from(area.subarray(0, n))),
      write: (bytes) => received.push(Buffer.from(bytes)),
    };
  };
  for (const mode of ['push', 'pull'] as const) {
    const received: Buffer[] = [];
    const frames: [number, Buffer][] = [];
    const p = new FrameParser(
      (_t, _o, step, b) => frames.push([step, b]),
      (_t, _o, step, len) => (step === 0 && len === payload.length ? makeSink(received) : undefined),
    );
    let at = 0;
    while (at < stream.length) {
      if (mode === 'push') {
        p.push(stream.subarray(at, at + 9_999));
        at += 9_999;
      } else {
        const target = p.readBuffer();
        const n = Math.min(target.length, stream.length - at);
        stream.copy(target, 0, at, at + n);
        p.onRead(n);
        at += n;
      }
    }
    expect(frames.map(([step]) => step)).toEqual([0, 1]);
    expect(frames[0][1]).toBe(SUNK);
    expect(frames[1][1].toString()).toBe('xyz');
    expect(Buffer.concat(received).equals(payload)).toBe(true);
  }
});
