// Several resource managers behind the one seam: each pool is run by the manager that owns it (pools declared
// `type: kubernetes` by the Kubernetes manager, every other pool by the agent manager). Allocations are rows
// with a pool, so each manager only schedules and watches the allocations of its own pools.
import type { AgentInfo, JobInfo, ResourcePoolInfo } from '@hone/protocol';
import type { Queryable } from '../db';
import type { FitCheck } from '../scheduler/types';
import type { ResourceManager } from './resourceManager';

export interface PoolOwner extends ResourceManager {
  owns(pool: string): boolean;
}

export class CompositeResourceManager implements ResourceManager {
  /** `fallback` runs every pool that no manager of `owners` owns. */
  constructor(
    private readonly fallback: ResourceManager,
    private readonly owners: PoolOwner[],
  ) {}

  private all(): ResourceManager[] {
    return [this.fallback, ...this.owners];
  }

  private ownerOf(pool: string): ResourceManager {
    return this.owners.find((o) => o.owns(pool)) ?? this.fallback;
  }

  private owned(pool: string): boolean {
    return this.owners.some((o) => o.owns(pool));
  }

  start(): void {
    for (const m of this.all()) m.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((m) => m.stop()));
  }

  requestPass(): void {
    for (const m of this.all()) m.requestPass();
  }

  /** Stop requests are rows, whoever carries them out: one write is enough. */
  releaseExperiment(tx: Queryable, experimentId: number, how: 'preempt' | 'kill', reason: string): Promise<void> {
    return this.fallback.releaseExperiment(tx, experimentId, how, reason);
  }

  canEverFit(pool: string, slots: number): Promise<FitCheck> {
    return this.ownerOf(pool).canEverFit(pool, slots);
  }

  async describeAgents(): Promise<AgentInfo[]> {
    return (await Promise.all(this.all().map((m) => m.describeAgents()))).flat();
  }

  async describePools(): Promise<ResourcePoolInfo[]> {
    const [base, ...rest] = await Promise.all(this.all().map((m) => m.describePools()));
    const pools = [...base!.filter((p) => !this.owned(p.name)), ...rest.flat()];
    return pools.sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeJobs(): Promise<JobInfo[]> {
    const [base, ...rest] = await Promise.all(this.all().map((m) => m.describeJobs()));
    return [...base!.filter((j) => !this.owned(j.resourcePool)), ...rest.flat()];
  }

  capacity(): { agents: number; slots: number } {
    let agents = 0;
    let slots = 0;
    for (const m of this.all()) {
      const c = m.capacity();
      agents += c.agents;
      slots += c.slots;
    }
    return { agents, slots };
  }
}
