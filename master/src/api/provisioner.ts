// Provisioned pools: their instances by state and what the provisioner last decided (`hone resource-pool list`,
// the web UI's cluster page), and one instance's history.
import { Type } from 'typebox';
import { API_PREFIX } from '@hone/protocol';
import type { App, MasterContext } from '../context';
import { instanceHistory } from '../db/instances';
import type { ProvisionedPool, Provisioner } from '../provisioner';

export function registerProvisionerRoutes(app: App, ctx: MasterContext, provisioner: Provisioner): void {
  app.get(`${API_PREFIX}/provisioner/pools`, { schema: { tags: ['cluster'] } }, async (): Promise<ProvisionedPool[]> => provisioner.describe());
  app.get(
    `${API_PREFIX}/provisioner/instances/:id/history`,
    { schema: { tags: ['cluster'], params: Type.Object({ id: Type.String({ maxLength: 200 }) }) } },
    async (req) => instanceHistory(ctx.db, (req.params as { id: string }).id),
  );
}
