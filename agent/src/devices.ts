// Device discovery: GPUs from nvidia-smi, else N CPU slots.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Device } from '@hone/protocol';

/** Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(out: string): Device[] {
  const devices: Device[] = [];
  for (const line of out.split('\n')) {
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < 3 || !/^\d+$/.test(parts[0]!)) continue;
    const mem = Number(parts[3]);
    devices.push({ id: Number(parts[0]), type: 'gpu', uuid: parts[1]!, brand: parts[2]!, ...(Number.isFinite(mem) ? { memoryMiB: mem } : {}) });
  }
  return devices;
}

export function discoverDevices(opts: { slots?: number; gpus?: boolean } = {}): Device[] {
  if (opts.gpus !== false) {
    try {
      const out = execFileSync('nvidia-smi', ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'], {
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const gpus = parseNvidiaSmi(out);
      if (gpus.length) return opts.slots !== undefined ? gpus.slice(0, opts.slots) : gpus;
    } catch {
      // no nvidia-smi or no driver: CPU slots
    }
  }
  const n = opts.slots ?? 1;
  const brand = os.cpus()[0]?.model?.trim() ?? 'cpu';
  return Array.from({ length: n }, (_, i) => ({ id: i, type: 'cpu' as const, brand, uuid: `cpu-${os.hostname()}-${i}` }));
}
