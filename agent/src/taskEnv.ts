// The environment a trial's harness gets. It is built from an allowlist, never by copying the agent's own
// environment: the agent holds secrets (HONE_AGENT_TOKEN, its credential, a cloud provider's keys, an npm token)
// and every trial runs user code that could print them. The one exception is AWS's (for s3 checkpoint storage). What the harness needs to run comes from the agent's
// environment (below); everything about the task comes from the master's `startTask.env` and the agent itself.

/** Variables taken from the agent's environment when set: what Node, CUDA libraries and the locale need. */
export const INHERITED_VARIABLES: readonly string[] = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TERM',
  'TMPDIR',
  // Shared libraries for tfjs-node-gpu (CUDA, cuDNN), where they are not in the loader's default path.
  'LD_LIBRARY_PATH',
  'CUDA_HOME',
  'CUDA_PATH',
  // Node's own settings (never NODE_AUTH_TOKEN and the like: only these).
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_ENV',
  'NODE_NO_WARNINGS',
  // The operator's choice of TensorFlow.js backend for this machine (an experiment's own setting wins).
  'HONE_TF_BACKEND',
  // AWS credentials and settings for s3 checkpoint storage: the harness writes checkpoints to the bucket itself,
  // with the SDK's default chain. Trial code can read them, so give the agent credentials scoped to that bucket.
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];

/** Locale variables (LC_ALL, LC_CTYPE, ...) and AWS endpoint overrides (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3) too. */
const INHERITED_PATTERN = /^(LC_[A-Z_]+|AWS_ENDPOINT_URL(_[A-Z0-9_]+)?)$/;

export interface TaskEnvOptions {
  /** The agent's environment (process.env). */
  agentEnv: NodeJS.ProcessEnv;
  /** `startTask.env`: the master's task variables and the experiment's `environment.variables`. */
  taskEnv?: Record<string, string>;
  /** Variables the agent sets itself (rank, devices, ring host, CA file); they win over everything else. */
  agentSet?: Record<string, string>;
  /** HOME for the harness (the task directory when it runs as another user); default: the agent's HOME. */
  home?: string;
}

/** The base environment every harness process starts with (also the pre-warmed one, before it has a task). */
export function baseEnvironment(agentEnv: NodeJS.ProcessEnv, home?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(agentEnv)) {
    if (v === undefined) continue;
    if (INHERITED_VARIABLES.includes(k) || INHERITED_PATTERN.test(k)) env[k] = v;
  }
  const h = home ?? agentEnv.HOME;
  if (h) env.HOME = h;
  return env;
}

/** The whole environment of one task's harness: the base, then the task's variables, then the agent's own. */
export function taskEnvironment(opts: TaskEnvOptions): Record<string, string> {
  return { ...baseEnvironment(opts.agentEnv, opts.home), ...(opts.taskEnv ?? {}), ...(opts.agentSet ?? {}) };
}
