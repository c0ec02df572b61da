import { describe, expect, it } from 'vitest';
import { baseEnvironment, taskEnvironment } from './taskEnv';

// An agent's environment as a systemd unit or a cloud image gives it: secrets next to what a trial needs.
const agentEnv: NodeJS.ProcessEnv = {
  PATH: '/usr/local/bin:/usr/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  LD_LIBRARY_PATH: '/usr/local/cuda/lib64',
  NODE_OPTIONS: '--max-old-space-size=8192',
  HONE_AGENT_TOKEN: 'cluster-agent-token',
  HONE_MASTER: 'https://master:8080',
  HONE_CA: '/etc/hone/ca.pem',
  AWS_ACCESS_KEY_ID: 'AKIA...',
  AWS_SECRET_ACCESS_KEY: 'secret',
  GOOGLE_APPLICATION_CREDENTIALS: '/etc/gcp.json',
  AZURE_CLIENT_SECRET: 'az',
  NODE_AUTH_TOKEN: 'npm-token',
  SSH_AUTH_SOCK: '/tmp/ssh-agent',
  CUDA_VISIBLE_DEVICES: '0,1,2,3',
};

describe('a trial\'s environment', () => {
  it('holds the basics from the agent, the task\'s variables and the agent\'s own settings, and nothing else', () => {
    const env = taskEnvironment({
      agentEnv,
      taskEnv: { HONE_TASK_TOKEN: 'task', HONE_MASTER_URL: 'https://master:8080', MY_SETTING: '1' },
      agentSet: { HONE_RANK: '0', CUDA_VISIBLE_DEVICES: '2', NODE_EXTRA_CA_CERTS: '/var/lib/hone-agent/master-ca.pem' },
    });
    const basics = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'LD_LIBRARY_PATH', 'NODE_OPTIONS', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
    expect(env).toEqual({
      ...Object.fromEntries(basics.map((k) => [k, agentEnv[k]])),
      HONE_TASK_TOKEN: 'task',
      HONE_MASTER_URL: 'https://master:8080',
      MY_SETTING: '1',
      HONE_RANK: '0',
      CUDA_VISIBLE_DEVICES: '2',
      NODE_EXTRA_CA_CERTS: '/var/lib/hone-agent/master-ca.pem',
    });
  });

  it('never carries the agent token, other clouds\' credentials or the agent\'s own devices', () => {
    const env = baseEnvironment(agentEnv);
    for (const k of ['HONE_AGENT_TOKEN', 'HONE_MASTER', 'HONE_CA', 'GOOGLE_APPLICATION_CREDENTIALS', 'AZURE_CLIENT_SECRET', 'NODE_AUTH_TOKEN', 'SSH_AUTH_SOCK', 'CUDA_VISIBLE_DEVICES']) {
      expect(env).not.toHaveProperty(k);
    }
  });

  it('passes AWS credentials and settings through for s3 checkpoint storage, and no other AWS_ variable', () => {
    const aws = {
      AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't', AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_PROFILE: 'ckpt', AWS_CONFIG_FILE: '/etc/aws/config', AWS_SHARED_CREDENTIALS_FILE: '/etc/aws/credentials',
      AWS_ENDPOINT_URL: 'http://minio:9000', AWS_ENDPOINT_URL_S3: 'http://minio:9000',
    };
    const env = baseEnvironment({ ...agentEnv, ...aws, AWS_ENDPOINT_URLX: 'x', AWS_EC2_METADATA_DISABLED: 'true' });
    expect(env).toMatchObject(aws);
    expect(env).not.toHaveProperty('AWS_ENDPOINT_URLX');
    expect(env).not.toHaveProperty('AWS_EC2_METADATA_DISABLED');
  });

  it('gives HOME as told (the task directory, for a rank user)', () => {
    expect(baseEnvironment(agentEnv, '/var/lib/hone-agent/a1-r0').HOME).toBe('/var/lib/hone-agent/a1-r0');
  });

  it('lets the agent\'s settings win over an experiment\'s variables of the same name', () => {
    const env = taskEnvironment({ agentEnv, taskEnv: { CUDA_VISIBLE_DEVICES: '0,1,2,3', NODE_EXTRA_CA_CERTS: '/evil' }, agentSet: { CUDA_VISIBLE_DEVICES: '1', NODE_EXTRA_CA_CERTS: '/ca.pem' } });
    expect(env.CUDA_VISIBLE_DEVICES).toBe('1');
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/ca.pem');
  });
});
