// The `aws` provider: EC2 through @aws-sdk/client-ec2. Launches with RunInstances (from a launch template or an
// AMI, user data that installs and starts the agent, spot optional), with the launch's idempotency key as the
// ClientToken (EC2 answers a repeated RunInstances with the instance it already started) and tags naming the
// master, the pool, the instance and the key. Lists with DescribeInstances filtered by those tags, page by page;
// any failed page fails the whole list. Terminates with TerminateInstances.
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { ProviderConfig } from '../types';
import { LaunchError, TAGS, type CloudInstance, type LaunchRequest, type Provider } from './provider';
import { agentUserData } from './userData';

const CAPACITY_ERRORS = new Set(['InsufficientInstanceCapacity', 'InstanceLimitExceeded', 'MaxSpotInstanceCountExceeded', 'SpotMaxPriceTooLow', 'InsufficientHostCapacity', 'InsufficientCapacity', 'Unsupported']);
const THROTTLE_ERRORS = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);
/** States listed: everything not yet gone (terminated instances stay visible for an hour; they are gone to us). */
const LISTED_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

export interface AwsProviderOptions {
  pool: string;
  masterId: string;
  config: ProviderConfig;
  /** A client to use (tests pass a mocked one); default: one for the configured region. */
  client?: EC2Client;
}

export class AwsProvider implements Provider {
  readonly type = 'aws';
  private readonly client: EC2Client;
  constructor(private readonly opts: AwsProviderOptions) {
    const f = opts.config.fields;
    this.client = opts.client ?? new EC2Client({ region: f.region as string, ...(f.endpoint ? { endpoint: f.endpoint as string } : {}), maxAttempts: 3 });
  }

  async list(): Promise<CloudInstance[]> {
    const out: CloudInstance[] = [];
    let NextToken: string | undefined;
    do {
      // Throws on any failed page (after the SDK's own retries): never a partial list.
      const page = await this.client.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${TAGS.master}`, Values: [this.opts.masterId] },
            { Name: `tag:${TAGS.pool}`, Values: [this.opts.pool] },
            { Name: 'instance-state-name', Values: LISTED_STATES },
          ],
          MaxResults: 500,
          ...(NextToken ? { NextToken } : {}),
        }),
      );
      for (const r of page.Reservations ?? []) {
        for (const i of r.Instances ?? []) {
          const tag = (k: string) => i.Tags?.find((t) => t.Key === k)?.Value;
          const key = tag(TAGS.key);
          const id = tag(TAGS.instance);
          if (!key || !id || !i.InstanceId) continue;
          const s = i.State?.Name ?? 'pending';
          out.push({
            id,
            key,
            cloudId: i.InstanceId,
            state: s === 'pending' ? 'pending' : s === 'running' ? 'running' : s === 'shutting-down' || s === 'terminated' ? 'terminated' : 'stopping',
            ...(i.StateReason?.Code?.startsWith('Server.SpotInstance') ? { interrupted: true } : {}),
          });
        }
      }
      NextToken = page.NextToken || undefined;
    } while (NextToken);
    return out;
  }

  /** The RunInstances request for a launch (exported for the tests' exact comparison). */
  runInstancesInput(req: LaunchRequest): RunInstancesCommandInput {
    const f = this.opts.config.fields;
    const userTags = Object.entries((f.tags as Record<string, unknown> | undefined) ?? {}).map(([Key, v]): Tag => ({ Key, Value: String(v) }));
    const tags: Tag[] = [
      { Key: 'Name', Value: `hone-${req.id}` },
      { Key: TAGS.master, Value: req.masterId },
      { Key: TAGS.pool, Value: req.pool },
      { Key: TAGS.instance, Value: req.id },
      { Key: TAGS.key, Value: req.key },
      ...userTags,
    ];
    const lt = f.launch_template as { id?: string; name?: string; version?: string } | undefined;
    const userData = agentUserData(req, {
      ...(f.agent_install_url ? { installUrl: f.agent_install_url as string } : {}),
      ...(f.user_data_extra ? { extra: f.user_data_extra as string } : {}),
    });
    return {
      MinCount: 1,
      MaxCount: 1,
      ClientToken: req.key,
      InstanceType: this.opts.config.instance_type as RunInstancesCommandInput['InstanceType'],
      ...(f.image_id ? { ImageId: f.image_id as string } : {}),
      ...(lt ? { LaunchTemplate: { ...(lt.id ? { LaunchTemplateId: lt.id } : { LaunchTemplateName: lt.name }), Version: lt.version ?? '$Default' } } : {}),
      ...(f.subnet_id ? { SubnetId: f.subnet_id as string } : {}),
      ...(f.security_group_ids ? { SecurityGroupIds: f.security_group_ids as string[] } : {}),
      ...(f.key_name ? { KeyName: f.key_name as string } : {}),
      ...(f.iam_instance_profile ? { IamInstanceProfile: { Name: f.iam_instance_profile as string } } : {}),
      ...(f.root_volume_gib ? { BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: Number(f.root_volume_gib), DeleteOnTermination: true } }] } : {}),
      ...(f.spot
        ? { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate', ...(f.spot_max_price ? { MaxPrice: f.spot_max_price as string } : {}) } } }
        : {}),
      UserData: Buffer.from(userData, 'utf8').toString('base64'),
      InstanceInitiatedShutdownBehavior: 'terminate',
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    };
  }

  async launch(req: LaunchRequest): Promise<{ cloudId: string }> {
    try {
      const r = await this.client.send(new RunInstancesCommand(this.runInstancesInput(req)));
      const id = r.Instances?.[0]?.InstanceId;
      if (!id) throw new LaunchError('RunInstances answered without an instance', 'other');
      return { cloudId: id };
    } catch (e) {
      if (e instanceof LaunchError) throw e;
      const name = (e as { name?: string }).name ?? '';
      const kind = CAPACITY_ERRORS.has(name) ? 'capacity' : THROTTLE_ERRORS.has(name) ? 'throttled' : name.startsWith('Invalid') || name === 'UnauthorizedOperation' ? 'config' : 'other';
      throw new LaunchError(`${name || 'error'}: ${(e as Error).message}`, kind);
    }
  }

  async terminate(instances: Array<{ id: string; cloudId: string | null; key: string }>): Promise<void> {
    const ids = instances.map((i) => i.cloudId).filter((c): c is string => !!c && c.startsWith('i-'));
    for (let i = 0; i < ids.length; i += 1000) {
      try {
        await this.client.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) }));
      } catch (e) {
        // Already gone is done.
        if ((e as { name?: string }).name !== 'InvalidInstanceID.NotFound') throw e;
      }
    }
  }
}
