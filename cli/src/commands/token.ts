// `hone token`: access tokens for scripts and automation (HONE_TOKEN), each owned by the user who creates it.
// The secret is shown once, when it is created; listing shows only what identifies a token.
import type { Command } from 'commander';
import type { CreateTokenResult, TokenInfo } from '@hone/protocol/auth';
import { HoneError } from '@hone/protocol/errors';
import { formatUtcTime } from '@hone/protocol/format';
import { parseDuration } from '../duration';
import { masterClient, wantsJson } from '../global-options';
import { printJson, table } from '../output';
import { parseId } from '../parse-id';

/** The master's bounds on a token's lifetime (POST /tokens expiresInSeconds). */
const MIN_EXPIRY_S = 60;
const MAX_EXPIRY_S = 10 * 365 * 86400;

function tokenState(t: TokenInfo, now = Date.now()): string {
  if (t.revoked) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('access tokens for scripts and automation (use one as HONE_TOKEN or --token)');

  token
    .command('create')
    .description('create an access token of the signed-in user; the token is printed once')
    .requiredOption('--description <text>', 'what the token is for (shown by token list)')
    .option('--expires-in <duration>', 'lifetime, as in 30d, 12h, 2w or 1y (default: never expires)')
    .option('--json', 'print JSON')
    .action(async (o: { description: string; expiresIn?: string; json?: boolean }) => {
      let expiresInSeconds: number | undefined;
      if (o.expiresIn !== undefined) {
        expiresInSeconds = parseDuration(o.expiresIn, '--expires-in');
        if (expiresInSeconds < MIN_EXPIRY_S || expiresInSeconds > MAX_EXPIRY_S) {
          throw new HoneError('INVALID_ARGUMENT', `--expires-in must be between 1m and 10y, got "${o.expiresIn}"`);
        }
      }
      const c = masterClient(program);
      const t = await c.post<CreateTokenResult>('/tokens', { description: o.description, ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}) });
      if (wantsJson(program, o)) return printJson(t);
      console.log(`Created access token ${t.id} of ${t.username} (${t.description}), ${t.expiresAt ? `expires ${formatUtcTime(t.expiresAt)} UTC` : 'never expires'}:`);
      console.log(t.token);
      console.log(`It is shown only this once: keep it secret, and use it as HONE_TOKEN=... or --token for ${c.base}. Revoke it with \`hone token revoke ${t.id}\`.`);
    });

  token
    .command('list')
    .alias('ls')
    .description('your access tokens (--all: every user\'s, for admins)')
    .option('--all', "every user's tokens (admins)")
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const items = await masterClient(program).get<TokenInfo[]>(`/tokens${o.all ? '?all=true' : ''}`);
      if (wantsJson(program, o)) return printJson(items);
      console.log(
        table(
          ['ID', 'User', 'Description', 'State', 'Created', 'Expires', 'Last used'],
          items.map((t) => [t.id, t.username, t.description, tokenState(t), formatUtcTime(t.createdAt), t.expiresAt ? formatUtcTime(t.expiresAt) : 'never', formatUtcTime(t.lastUsedAt)]),
        ),
      );
    });

  token
    .command('revoke <id>')
    .description('revoke an access token: it stops working at once')
    .option('--json', 'print JSON')
    .action(async (idStr: string, o: { json?: boolean }) => {
      const id = parseId(idStr, 'token id');
      await masterClient(program).request('DELETE', `/tokens/${id}`);
      if (wantsJson(program, o)) return printJson({ id, revoked: true });
      console.log(`Revoked access token ${id}`);
    });
}
