// `hone-agent --master URL [--slots N] [--pool NAME] [--id ID] [--work-dir DIR] [--token T] [--run-as USER] [--ca FILE] [--stop-tasks-on-exit]`
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from './agent';
import { discoverDevices } from './devices';
import { DEFAULT_EXTRACT_LIMITS } from './extract';

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
    'run-as': { type: 'string' },
    ca: { type: 'string' },
    'max-archive-mib': { type: 'string' },
    'max-archive-files': { type: 'string' },
    'stop-tasks-on-exit': { type: 'boolean' },
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
  --token T        the cluster agent token (HONE_AGENT_TOKEN): a new agent joins with it once, then the
                   master issues it its own credential, kept in <work-dir>/credential.json (mode 0600)
  --run-as USER    user trial ranks run as when the agent runs as root (HONE_AGENT_RUN_AS, default nobody;
                   "root" keeps them root, with a warning). An agent that is not root runs them as itself
  --ca FILE        PEM CA certificate(s) that signed the master's certificate, for an https:// master with a
                   private CA (HONE_CA); trusted besides the system's roots, by the agent and by its trials
  --max-archive-mib N    largest model directory unpacked, MiB (HONE_AGENT_MAX_ARCHIVE_MIB, default ${DEFAULT_EXTRACT_LIMITS.maxBytes / 1048576})
  --max-archive-files N  most entries in a model directory (HONE_AGENT_MAX_ARCHIVE_FILES, default ${DEFAULT_EXTRACT_LIMITS.maxFiles})
  --stop-tasks-on-exit   kill this agent's trial ranks when it stops (SIGTERM/SIGINT) (HONE_AGENT_STOP_TASKS_ON_EXIT=1).
                   By default they keep running, and an agent restarted with the same --id and --work-dir
                   adopts them (a systemd unit needs KillMode=process for that)
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
function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`hone agent: ${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return n;
}
const maxMib = positiveInt('--max-archive-mib', values['max-archive-mib'] ?? env.HONE_AGENT_MAX_ARCHIVE_MIB);
const maxFiles = positiveInt('--max-archive-files', values['max-archive-files'] ?? env.HONE_AGENT_MAX_ARCHIVE_FILES);
const id = values.id ?? env.HONE_AGENT_ID ?? os.hostname();
const devices = discoverDevices({ ...(slots !== undefined ? { slots } : {}), gpus: !values['no-gpus'] });
const runAs = values['run-as'] ?? env.HONE_AGENT_RUN_AS;
const ca = values.ca ?? env.HONE_CA;
let agent: Agent;
try {
  agent = new Agent({
    masterUrl: values.master ?? env.HONE_MASTER ?? 'http://127.0.0.1:8080',
    agentId: id,
    resourcePool: values.pool ?? env.HONE_AGENT_POOL ?? 'default',
    devices,
    workDir: path.resolve(values['work-dir'] ?? env.HONE_AGENT_WORK_DIR ?? path.join(os.tmpdir(), `hone-agent-${id}`)),
    token: values.token ?? env.HONE_AGENT_TOKEN,
    ...((values['advertise-host'] ?? env.HONE_AGENT_ADVERTISE_HOST) ? { advertiseHost: values['advertise-host'] ?? env.HONE_AGENT_ADVERTISE_HOST } : {}),
    logLevel: values['log-level'] ?? env.HONE_LOG_LEVEL ?? 'info',
    ...(runAs ? { runAs } : {}),
    ...(ca ? { ca: path.resolve(ca) } : {}),
    extractLimits: { ...(maxMib ? { maxBytes: maxMib * 1048576 } : {}), ...(maxFiles ? { maxFiles } : {}) },
  });
} catch (e) {
  console.error(`hone agent: ${(e as Error).message}`);
  process.exit(2);
}
agent.log.info({ devices: devices.map((d) => `${d.type}:${d.id} ${d.brand}`) }, 'agent starting');
agent.start();
const stopTasks = values['stop-tasks-on-exit'] === true || /^(1|true|yes)$/i.test(env.HONE_AGENT_STOP_TASKS_ON_EXIT ?? '');
const shutdown = async () => {
  await agent.stop({ killTasks: stopTasks });
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
