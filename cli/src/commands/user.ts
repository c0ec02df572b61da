// `hone user`: sign in and out of a master (the session is kept per master URL in the auth file), who am I,
// change my password; and, for admins, create, list, deactivate and activate users. Determined's verbs.
import type { Command } from 'commander';
import type { CreateUserResult, LoginResult, UserInfo } from '@hone/protocol/auth';
import { HoneError } from '@hone/protocol/errors';
import { formatUtcTime } from '@hone/protocol/format';
import { authFilePath, findSession, readAuthFile, removeSession, saveSession } from '../auth-file';
import type { Client } from '../client';
import { masterClient, wantsJson } from '../global-options';
import { addListCommand } from '../list-command';
import { printJson } from '../output';
import { askLine, askSecret, readStdinLines } from '../prompt';

interface PasswordOpts {
  passwordStdin?: boolean;
  json?: boolean;
}

const STDIN_HELP = 'read the password from stdin (for scripts) instead of asking for it';

/** A new password typed twice at the terminal; refuses two that differ. */
async function askNewPassword(): Promise<string> {
  const first = await askSecret('New password: ');
  const again = await askSecret('New password again: ');
  if (first !== again) throw new HoneError('INVALID_ARGUMENT', 'the two new passwords differ; nothing was changed');
  return first;
}

/** Ends a session that is no longer kept anywhere (best effort: it also expires on its own). */
async function revokeQuietly(c: Client, token: string): Promise<void> {
  await c.request('POST', '/auth/logout', {}, { token }).catch(() => undefined);
}

/** HONE_TOKEN or --token would be used instead of the session just kept: say so. */
function warnIfOverridden(c: Client): void {
  if (c.tokenSource === 'HONE_TOKEN' || c.tokenSource === '--token') {
    process.stderr.write(`Note: ${c.tokenSource} is set and is used instead of this session; unset it to use the session.\n`);
  }
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').alias('u').description('sign in and out; users of the master (admins create and deactivate them)');

  user
    .command('login [username]')
    .description('sign in to the master and keep the session for its URL (asks for the password without echoing it)')
    .option('--password-stdin', STDIN_HELP)
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o: PasswordOpts) => {
      const c = masterClient(program);
      const file = authFilePath();
      const kept = findSession(readAuthFile(file), c.base);
      let username = name;
      if (!username && o.passwordStdin) throw new HoneError('INVALID_ARGUMENT', 'give the user name: hone user login NAME --password-stdin');
      username ??= await askLine(`User name for ${c.base}`, kept?.username);
      if (!username) throw new HoneError('INVALID_ARGUMENT', 'no user name given');
      const [password] = o.passwordStdin ? await readStdinLines(1, ['the password']) : [await askSecret(`Password for ${username} at ${c.base}: `)];
      const r = await c.request<LoginResult>('POST', '/auth/login', { username, password }, { token: null });
      const previous = saveSession(c.base, { token: r.token, username: r.user.username }, file);
      if (previous && previous.token !== r.token) await revokeQuietly(c, previous.token);
      if (wantsJson(program, o)) printJson({ master: c.base, user: r.user, expiresAt: r.expiresAt, authFile: file });
      else console.log(`Signed in to ${c.base} as ${r.user.username}${r.user.admin ? ' (admin)' : ''} until ${formatUtcTime(r.expiresAt)} UTC; the session is kept in ${file}`);
      warnIfOverridden(c);
    });

  user
    .command('logout')
    .description('sign out: end the session the CLI uses for the master and forget it')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const c = masterClient(program);
      const file = authFilePath();
      let revoked = false;
      let failure: HoneError | undefined;
      if (c.token) {
        try {
          await c.request('POST', '/auth/logout', {});
          revoked = true;
        } catch (e) {
          // A session the master no longer knows is as ended as one it just revoked.
          if (!(e instanceof HoneError) || e.status !== 401) failure = e instanceof HoneError ? e : new HoneError('INTERNAL', (e as Error).message);
          else revoked = true;
        }
      }
      const removed = c.tokenSource === 'auth file' ? removeSession(c.base, file) !== undefined : false;
      if (failure) throw new HoneError(failure.code, `${removed ? `forgot the session in ${file}, but ` : ''}could not end it on the master: ${failure.message}`, undefined, failure.status);
      if (wantsJson(program, o)) return printJson({ master: c.base, revoked, tokenSource: c.tokenSource ?? null, removedFromAuthFile: removed });
      if (!c.token) return console.log(`Not signed in to ${c.base}`);
      console.log(`Signed out of ${c.base}${removed ? ` (the session is removed from ${file})` : ''}`);
      if (c.tokenSource !== 'auth file') process.stderr.write(`Note: the token in ${c.tokenSource} is revoked now; unset it.\n`);
    });

  user
    .command('whoami')
    .description('the user the CLI is signed in as on the master')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const c = masterClient(program);
      const me = await c.get<UserInfo>('/auth/me');
      if (wantsJson(program, o)) return printJson({ ...me, master: c.base, tokenSource: c.tokenSource ?? null });
      console.log(`${me.username}${me.admin ? ' (admin)' : ''} on ${c.base} (token from ${c.tokenSource === 'auth file' ? authFilePath() : c.tokenSource})`);
    });

  user
    .command('change-password')
    .description('change your own password (asks for the current and the new one; --password-stdin reads both, one a line)')
    .option('--password-stdin', 'read the current and the new password from stdin, one a line')
    .option('--json', 'print JSON')
    .action(async (o: PasswordOpts) => {
      const c = masterClient(program);
      // Who is asked about, and a sign-in problem reported before any password is typed.
      const me = await c.get<UserInfo>('/auth/me');
      const [oldPassword, newPassword] = o.passwordStdin
        ? await readStdinLines(2, ['the current password', 'the new password'])
        : [await askSecret(`Current password of ${me.username} at ${c.base}: `), await askNewPassword()];
      const r = await c.post<LoginResult>('/users/me/password', { oldPassword, newPassword });
      // The master ends every session of the user and opens a new one: keep that one.
      const file = authFilePath();
      saveSession(c.base, { token: r.token, username: r.user.username }, file);
      if (wantsJson(program, o)) return printJson({ master: c.base, user: r.user, expiresAt: r.expiresAt, authFile: file });
      console.log(`Changed the password of ${r.user.username} on ${c.base}; their other sessions are signed out, and this CLI is signed in again (session kept in ${file})`);
      warnIfOverridden(c);
    });

  user
    .command('create <username>')
    .description('create a user (admins); without --password-stdin the master generates a password, printed once')
    .option('--admin', 'make the user an admin')
    .option('--password-stdin', "read the user's password from stdin")
    .option('--json', 'print JSON')
    .action(async (username: string, o: PasswordOpts & { admin?: boolean }) => {
      const c = masterClient(program);
      const [password] = o.passwordStdin ? await readStdinLines(1, ['the password']) : [undefined];
      const r = await c.post<CreateUserResult>('/users', { username, ...(password !== undefined ? { password } : {}), ...(o.admin ? { admin: true } : {}) });
      if (wantsJson(program, o)) return printJson(r);
      console.log(`Created user ${r.user.username}${r.user.admin ? ' (admin)' : ''}`);
      if (r.password) {
        console.log(`Password: ${r.password}`);
        console.log(`(shown only this once; they sign in with \`hone -m ${c.base} user login ${r.user.username}\` and change it with \`hone user change-password\`)`);
      }
    });

  addListCommand(user, program, {
    description: 'the users of the master',
    fetch: (c) => c.get<UserInfo[]>('/users'),
    head: ['User', 'Admin', 'Active', 'Created'],
    row: (u) => [u.username, u.admin ? 'yes' : 'no', u.active ? 'yes' : 'no', formatUtcTime(u.createdAt)],
  });

  const activation = {
    deactivate: { active: false, description: 'deactivate a user (admins): their sessions and access tokens stop working', done: 'deactivated: signed out everywhere, and their access tokens no longer work' },
    activate: { active: true, description: 'reactivate a deactivated user (admins)', done: 'activated: they can sign in again with their password' },
  } as const;
  for (const [verb, a] of Object.entries(activation)) {
    user
      .command(`${verb} <username>`)
      .description(a.description)
      .option('--json', 'print JSON')
      .action(async (username: string, o: { json?: boolean }) => {
        const u = await masterClient(program).request<UserInfo>('PATCH', `/users/${encodeURIComponent(username)}`, { active: a.active });
        if (wantsJson(program, o)) return printJson(u);
        console.log(`User ${u.username} ${a.done}`);
      });
  }
}
