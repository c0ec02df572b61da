// The aws provider against the real SDK client with its requests intercepted (aws-sdk-client-mock).
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand, type InstanceStateName } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseProviderConfig } from '../config';
import { AwsProvider } from './aws';
import { LaunchError, type LaunchRequest } from './provider';

const ec2 = mockClient(EC2Client);
beforeEach(() => ec2.reset());

const config = (over: Record<string, unknown> = {}) =>
  parseProviderConfig(
    { type: 'aws', region: 'eu-west-1', image_id: 'ami-0abc', instance_type: 'g5.xlarge', max_instances: 4, subnet_id: 'subnet-1', security_group_ids: ['sg-1'], iam_instance_profile: 'hone-agent', tags: { team: 'ml' }, ...over },
    'resource_pools[0].provider',
  );
const provider = (over: Record<string, unknown> = {}) => new AwsProvider({ pool: 'gpu', masterId: 'hone-m1', config: config(over), client: new EC2Client({ region: 'eu-west-1' }) });
const req: LaunchRequest = { id: 'gpu-1234abcd', key: '1234abcd-0000-4000-8000-000000000000', pool: 'gpu', masterId: 'hone-m1', slots: 1, instanceType: 'g5.xlarge', masterUrl: 'https://master.lan:8080', agentToken: 'tok' };
const err = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} });

describe('aws provider', () => {
  it('RunInstances: the exact request, tagged with master, pool, instance and launch key; the key is the ClientToken', async () => {
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0001' }] });
    expect(await provider().launch(req)).toEqual({ cloudId: 'i-0001' });
    const calls = ec2.commandCalls(RunInstancesCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    const tags = [
      { Key: 'Name', Value: 'hone-gpu-1234abcd' },
      { Key: 'hone-master', Value: 'hone-m1' },
      { Key: 'hone-pool', Value: 'gpu' },
      { Key: 'hone-instance', Value: 'gpu-1234abcd' },
      { Key: 'hone-launch-key', Value: req.key },
      { Key: 'team', Value: 'ml' },
    ];
    expect({ ...input, UserData: undefined }).toEqual({
      MinCount: 1,
      MaxCount: 1,
      ClientToken: req.key,
      InstanceType: 'g5.xlarge',
      ImageId: 'ami-0abc',
      SubnetId: 'subnet-1',
      SecurityGroupIds: ['sg-1'],
      IamInstanceProfile: { Name: 'hone-agent' },
      UserData: undefined,
      InstanceInitiatedShutdownBehavior: 'terminate',
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
    const script = Buffer.from(input.UserData!, 'base64').toString('utf8');
    expect(script).toContain(`install-agent.sh" --master 'https://master.lan:8080' --token 'tok' --pool 'gpu' --id 'gpu-1234abcd' --slots 1`);
  });

  it('a launch template and spot', async () => {
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0002' }] });
    await provider({ image_id: undefined, launch_template: { name: 'hone-gpu', version: '3' }, spot: true, spot_max_price: '0.5' }).launch(req);
    const input = ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(input.ImageId).toBeUndefined();
    expect(input.LaunchTemplate).toEqual({ LaunchTemplateName: 'hone-gpu', Version: '3' });
    expect(input.InstanceMarketOptions).toEqual({ MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate', MaxPrice: '0.5' } });
  });

  it('InsufficientInstanceCapacity is a capacity launch error; throttling and bad config are told apart', async () => {
    ec2.on(RunInstancesCommand).rejectsOnce(err('InsufficientInstanceCapacity', 'We currently do not have sufficient g5.xlarge capacity')).rejectsOnce(err('RequestLimitExceeded')).rejectsOnce(err('InvalidAMIID.NotFound'));
    const p = provider();
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = await p.launch(req).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LaunchError);
      kinds.push((e as LaunchError).kind);
    }
    expect(kinds).toEqual(['capacity', 'throttled', 'config']);
  });

  it('DescribeInstances by tag, every page; instances without our tags are ignored; spot interruptions are marked', async () => {
    const inst = (id: string, state: InstanceStateName, key: string, extra: object = {}) => ({
      InstanceId: id,
      State: { Name: state },
      Tags: [
        { Key: 'hone-instance', Value: `gpu-${id}` },
        { Key: 'hone-launch-key', Value: key },
      ],
      ...extra,
    });
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [inst('i-1', 'running', 'k1'), inst('i-2', 'pending', 'k2')] }], NextToken: 'page2' })
      .resolvesOnce({ Reservations: [{ Instances: [inst('i-3', 'shutting-down', 'k3', { StateReason: { Code: 'Server.SpotInstanceTermination' } }), { InstanceId: 'i-x', State: { Name: 'running' as const }, Tags: [] }] }] });
    const list = await provider().list();
    expect(list).toEqual([
      { id: 'gpu-i-1', key: 'k1', cloudId: 'i-1', state: 'running' },
      { id: 'gpu-i-2', key: 'k2', cloudId: 'i-2', state: 'pending' },
      { id: 'gpu-i-3', key: 'k3', cloudId: 'i-3', state: 'terminated', interrupted: true },
    ]);
    const calls = ec2.commandCalls(DescribeInstancesCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input).toEqual({
      Filters: [
        { Name: 'tag:hone-master', Values: ['hone-m1'] },
        { Name: 'tag:hone-pool', Values: ['gpu'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
      ],
      MaxResults: 500,
    });
    expect(calls[1]!.args[0].input.NextToken).toBe('page2');
  });

  it('a throttled page fails the whole list (never a partial one)', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'running' as const }, Tags: [{ Key: 'hone-instance', Value: 'a' }, { Key: 'hone-launch-key', Value: 'k' }] }] }], NextToken: 'p2' })
      .rejectsOnce(err('RequestLimitExceeded', 'Request limit exceeded.'));
    await expect(provider().list()).rejects.toThrow(/Request limit exceeded/);
  });

  it('TerminateInstances with the cloud ids; an instance already gone is done', async () => {
    ec2.on(TerminateInstancesCommand).resolvesOnce({}).rejectsOnce(err('InvalidInstanceID.NotFound'));
    const p = provider();
    await p.terminate([
      { id: 'a', cloudId: 'i-1', key: 'k1' },
      { id: 'b', cloudId: null, key: 'k2' },
      { id: 'c', cloudId: 'i-3', key: 'k3' },
    ]);
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input).toEqual({ InstanceIds: ['i-1', 'i-3'] });
    await expect(p.terminate([{ id: 'a', cloudId: 'i-1', key: 'k1' }])).resolves.toBeUndefined();
  });
});
