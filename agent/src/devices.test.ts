import { describe, expect, it } from 'vitest';
import { defaultAdvertiseHost } from './agent';
import { discoverDevices, parseNvidiaSmi } from './devices';

describe('device discovery', () => {
  it('parses nvidia-smi CSV into GPU slots', () => {
    const out = '0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559\n1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559\n';
    expect(parseNvidiaSmi(out)).toEqual([
      { id: 0, type: 'gpu', uuid: 'GPU-aaaa', brand: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
      { id: 1, type: 'gpu', uuid: 'GPU-bbbb', brand: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
    ]);
  });

  it('ignores lines that are not GPU rows', () => {
    expect(parseNvidiaSmi('No devices were found\n')).toEqual([]);
  });

  it('offers N CPU slots without GPUs', () => {
    const d = discoverDevices({ slots: 3, gpus: false });
    expect(d.map((x) => [x.id, x.type])).toEqual([
      [0, 'cpu'],
      [1, 'cpu'],
      [2, 'cpu'],
    ]);
  });

  it('advertises loopback to a local master', () => {
    expect(defaultAdvertiseHost('http://127.0.0.1:8080')).toBe('127.0.0.1');
    expect(defaultAdvertiseHost('http://localhost:8080')).toBe('127.0.0.1');
  });
});
