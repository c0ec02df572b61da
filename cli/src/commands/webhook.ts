// `hone webhook`: signed JSON POSTs to a URL when experiments enter chosen states. The signing secret is shown
// once, at creation; list and describe show each webhook's latest delivery attempts.
import type { Command } from 'commander';
import type { CreatedWebhook, WebhookDelivery, WebhookInfo } from '@hone/protocol/webhooks';
import { WEBHOOK_TRIGGERS } from '@hone/protocol/webhooks';
import { formatUtcTime } from '@hone/protocol/format';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';
import { parseId } from '../parse-id';

/** An attempt in a few words: `200`, `500`, or the error when no answer came. */
function outcome(d: WebhookDelivery): string {
  if (d.statusCode !== null && !d.error) return String(d.statusCode);
  return d.statusCode !== null ? `${d.statusCode} (${d.error})` : (d.error ?? '');
}

function lastAttempt(w: WebhookInfo): string {
  const d = w.deliveries[0];
  return d ? `${outcome(d)} at ${formatUtcTime(d.at)}` : 'none yet';
}

export function registerWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('signed HTTP POSTs when experiments change state');

  webhook
    .command('create')
    .description('POST a signed JSON event to URL when an experiment enters one of the triggers; prints the signing secret once')
    .requiredOption('--url <url>', 'http:// or https:// URL to POST to')
    .requiredOption('--triggers <states>', `comma-separated experiment states: ${WEBHOOK_TRIGGERS.join(', ')}`)
    .option('--experiment <id>', 'only this experiment (default: every experiment; admins only)')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; triggers: string; experiment?: string; json?: boolean }) => {
      const body = {
        url: o.url,
        triggers: o.triggers.split(',').map((t) => t.trim()).filter(Boolean),
        ...(o.experiment !== undefined ? { experimentId: parseId(o.experiment, '--experiment') } : {}),
      };
      const w = await masterClient(program).post<CreatedWebhook>('/webhooks', body);
      if (wantsJson(program, o)) return printJson(w);
      console.log(`Created webhook ${w.id}: ${w.triggers.join(',')} of ${w.experimentId !== null ? `experiment ${w.experimentId}` : 'every experiment'} to ${w.url}`);
      console.log(`Signing secret (shown only this once): ${w.secret}`);
      console.log('Each POST carries X-Hone-Signature: sha256=<hex>, the HMAC-SHA256 of the raw body with this secret.');
    });

  webhook
    .command('list')
    .alias('ls')
    .description('webhooks and their last delivery attempt')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const items = await masterClient(program).get<WebhookInfo[]>('/webhooks');
      if (wantsJson(program, o)) return printJson(items);
      console.log(
        table(
          ['ID', 'URL', 'Triggers', 'Experiment', 'Owner', 'Last attempt'],
          items.map((w) => [w.id, w.url, w.triggers.join(','), w.experimentId ?? 'all', w.owner, lastAttempt(w)]),
        ),
      );
    });

  webhook
    .command('describe <id>')
    .description('a webhook and its latest delivery attempts')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const w = await masterClient(program).get<WebhookInfo>(`/webhooks/${parseId(idStr, 'webhook id')}`);
      if (wantsJson(program, o)) return printJson(w);
      console.log(`Webhook ${w.id}: ${w.url}`);
      console.log(`  Triggers:   ${w.triggers.join(', ')}`);
      console.log(`  Experiment: ${w.experimentId ?? 'all'}`);
      console.log(`  Owner:      ${w.owner}    Created: ${formatUtcTime(w.createdAt)}`);
      console.log('');
      if (!w.deliveries.length) return console.log('No delivery attempts yet.');
      console.log(
        table(
          ['Attempt', 'Experiment', 'Trigger', 'Result', 'At'],
          w.deliveries.map((d) => [d.attempt, d.experimentId ?? '', d.trigger, outcome(d), formatUtcTime(d.at)]),
        ),
      );
    });

  webhook
    .command('delete <id>')
    .description('delete a webhook (deliveries still waiting are dropped)')
    .action(async (idStr: string) => {
      const id = parseId(idStr, 'webhook id');
      await masterClient(program).request('DELETE', `/webhooks/${id}`);
      console.log(`Deleted webhook ${id}`);
    });
}
