// `hone-agent --master URL [--slots N] [--pool NAME] [--id ID] [--work-dir DIR] [--token T]`
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from './agent';
import { discoverDevices } from './devices';

const { values } = parseArgs({
  options: {
    master: { type: 'string' },
    slots: { type: 'string' },
    pool: { type: 'string' },
    id: { type: 'string' },
    'work-dir': { type: 'string' },
    token: { type: 'string' },
    'no-gpus': { type: 'boolean' },
    'advertise-host': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
const env = process.env;
if (values.help) {
  console.log(`hone agent

  --master URL     master to connect to (HONE_MASTER, default http://127.0.0.1:8080)
  --slots N        CPU slots when there are no GPUs, or at most N GPUs (HONE_AGENT_SLOTS, default: all GPUs, else 1)
  --pool NAME      resource pool to join (HONE_AGENT_POOL, default "default")
  --id ID          agent id (HONE_AGENT_ID, default: the hostname)
  --work-dir DIR   where task directories go (HONE_AGENT_WORK_DIR, default $TMPDIR/hone-agent-<id>)
  --token T        agent token the master requires (HONE_AGENT_TOKEN)
  --no-gpus        ignore GPUs; use CPU slots
  --advertise-host address other machines' ranks use to reach ranks here (HONE_AGENT_ADVERTISE_HOST;
                   default: 127.0.0.1 for a local master, else this machine's first LAN IPv4)`);
  process.exit(0);
}
let slots: number | undefined;
const rawSlots = values.slots ?? env.HONE_AGENT_SLOTS;
if (rawSlots !== undefined) {
  slots = Number(rawSlots);
  if (!Number.isInteger(slots) || slots < 1) {
    console.error(`hone agent: --slots must be a positive integer, got "${rawSlots}"`);
    process.exit(2);
  }
}
const id = values.id ?? env.HONE_AGENT_ID ?? os.hostname();
const devices = discoverDevices({ ...(slots !== undefined ? { slots } : {}), gpus: !values['no-gpus'] });
const agent = new Agent({
  masterUrl: values.master ?? env.HONE_MASTER ?? 'http://127.0.0.1:8080',
  agentId: id,
  resourcePool: values.pool ?? env.HONE_AGENT_POOL ?? 'default',
  devices,
  workDir: path.resolve(values['work-dir'] ?? env.HONE_AGENT_WORK_DIR ?? path.join(os.tmpdir(), `hone-agent-${id}`)),
  token: values.token ?? env.HONE_AGENT_TOKEN,
  ...((values['advertise-host'] ?? env.HONE_AGENT_ADVERTISE_HOST) ? { advertiseHost: values['advertise-host'] ?? env.HONE_AGENT_ADVERTISE_HOST } : {}),
  logLevel: values['log-level'] ?? env.HONE_LOG_LEVEL ?? 'info',
});
agent.log.info({ devices: devices.map((d) => `${d.type}:${d.id} ${d.brand}`) }, 'agent starting');
agent.start();
const shutdown = async () => {
  await agent.stop({ killTasks: true });
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
