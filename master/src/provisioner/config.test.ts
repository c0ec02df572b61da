import { describe, expect, it } from 'vitest';
import { checkProviderConfigs } from './index';

const pools = (provider: Record<string, unknown>) => [
  { name: 'fixed', resource_manager: { type: 'agent' } },
  { name: 'auto', resource_manager: { type: 'agent' }, provider: { type: 'local', max_instances: 2, ...provider } as { type: string } },
];

describe('provider config', () => {
  it('defaults what is left out', () => {
    const c = checkProviderConfigs(pools({})).get('auto')!;
    expect(c).toMatchObject({ type: 'local', min_instances: 0, max_instances: 2, idle_timeout: 300, max_starting_period: 120, slots_per_instance: 1, instance_type: 'local', launch_backoff: 30, max_launch_backoff: 600 });
    expect(checkProviderConfigs(pools({})).has('fixed')).toBe(false);
  });

  it.each([
    [{ type: 'azure' }, /resource_pools\[1\]\.provider\.type: "azure" is not supported \(supported: aws, gcp, local\)/],
    [{ max_instances: undefined }, /resource_pools\[1\]\.provider\.max_instances: is required/],
    [{ min_instances: 3 }, /resource_pools\[1\]\.provider\.max_instances: must be >= min_instances \(3\), got 2/],
    [{ min_instances: -1 }, /resource_pools\[1\]\.provider\.min_instances: must be >= 0/],
    [{ slots_per_instance: 1.5 }, /resource_pools\[1\]\.provider\.slots_per_instance: must be a whole number/],
    [{ idle_timeout: 'soon' }, /resource_pools\[1\]\.provider\.idle_timeout: must be a number, got "soon"/],
    [{ region: 'x' }, /resource_pools\[1\]\.provider\.region: unknown field for provider type local/],
    [{ agent_args: '--x' }, /resource_pools\[1\]\.provider\.agent_args: must be a list of strings/],
    [{ type: 'aws', instance_type: 'g5.xlarge', image_id: 'ami-1' }, /resource_pools\[1\]\.provider\.region: is required for provider type aws/],
    [{ type: 'aws', region: 'eu-west-1', instance_type: 'g5.xlarge' }, /resource_pools\[1\]\.provider\.image_id: an AMI \(image_id\) or a launch_template is required/],
    [{ type: 'aws', region: 'eu-west-1', image_id: 'ami-1' }, /resource_pools\[1\]\.provider\.instance_type: is required/],
    [{ type: 'aws', region: 'eu-west-1', image_id: 'ami-1', instance_type: 'g5', spot: 'yes' }, /resource_pools\[1\]\.provider\.spot: must be true or false/],
    [{ type: 'gcp', instance_type: 'n1', project: 'p', zone: 'z' }, /resource_pools\[1\]\.provider\.source_image: is required for provider type gcp/],
  ])('%j is refused naming the field', (provider, message) => {
    expect(() => checkProviderConfigs(pools(provider))).toThrow(message);
  });
});
