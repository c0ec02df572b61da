import { describe, expect, it } from 'vitest';
import { parseMasterConfig } from './masterConfig';

const FLAGS = { port: 'string', 'db-url': 'string', 'no-preemption': 'boolean', config: 'string', help: 'boolean' } as const;
const parse = (text: string) => parseMasterConfig(text, 'master.yaml', FLAGS);

describe('master configuration file', () => {
  it('reads flags by name, with underscores or dashes, as the command line would give them', () => {
    const c = parse('port: 8081\ndb_url: postgres://x/y\nno-preemption: true\n');
    expect(c.flags).toEqual({ port: '8081', 'db-url': 'postgres://x/y', 'no-preemption': true });
    expect(c.resourcePools).toEqual([]);
  });

  it('an empty file is no configuration', () => {
    expect(parse('')).toEqual({ flags: {}, resourcePools: [] });
  });

  it('declares resource pools, agent-run unless they say otherwise', () => {
    const c = parse(`
resource_pools:
  - name: default
  - name: gpu-a100
    description: the big ones
    resource_manager: {type: kubernetes, namespace: ml}
    provider: {type: local, max_instances: 3}
`);
    expect(c.resourcePools).toEqual([
      { name: 'default', resource_manager: { type: 'agent' } },
      { name: 'gpu-a100', description: 'the big ones', resource_manager: { type: 'kubernetes', namespace: 'ml' }, provider: { type: 'local', max_instances: 3 } },
    ]);
  });

  it.each([
    ['prot: 1', /unknown key "prot" \(known: port, db_url, no_preemption, resource_pools\)/],
    ['config: other.yaml', /unknown key "config"/],
    ['port: [1]', /port: must be a string or a number/],
    ['no_preemption: yes please', /no_preemption: must be true or false/],
    ['- 1', /must be a mapping/],
    ['port: : :', /not valid YAML/],
    ['resource_pools: {name: a}', /resource_pools: must be a list/],
    ['resource_pools: [{}]', /resource_pools\[0\]\.name: is required/],
    ['resource_pools: [{name: "a b"}]', /resource_pools\[0\]\.name: "a b" must be/],
    ['resource_pools: [{name: a}, {name: a}]', /resource_pools\[1\]\.name: pool "a" is declared twice/],
    ['resource_pools: [{name: a, slots: 2}]', /resource_pools\[0\]: unknown key "slots"/],
    ['resource_pools: [{name: a, provider: {max_instances: 2}}]', /resource_pools\[0\]\.provider\.type: is required/],
    ['resource_pools: [{name: a, resource_manager: kubernetes}]', /resource_pools\[0\]\.resource_manager: must be a mapping/],
  ])('refuses %j, naming the key', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});
