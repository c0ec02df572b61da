// Authentication of every request under /api (and /metrics): a route declares who may call it in its config —
// `public` (login, master info), `task` (harness routes: the handler checks the task token), `any` (a user, or
// a task token checked by the handler) or `user` (the default). Static web UI files need no token: the page
// shows its login form. Runs before the body is read, so an anonymous upload is refused at once.
import type { App, MasterContext } from '../context';
import type { UserIdentity } from '../auth/userAuth';
import { isUserToken } from '../auth/tokens';
import { bearer } from './taskAuth';

export type RouteAuth = 'public' | 'user' | 'task' | 'any';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user (user routes, and `any` routes called with a user token). */
    user?: UserIdentity;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** The user token may come as `?token=` (WebSockets: browsers cannot set their headers). */
    queryToken?: boolean;
  }
}

export function registerAuthHook(app: App, ctx: MasterContext): void {
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    const guarded = path.startsWith('/api/') || (path === '/metrics' && !ctx.opts.metricsPublic);
    if (!guarded) return;
    const config = req.routeOptions.config as { auth?: RouteAuth; queryToken?: boolean } | undefined;
    const mode = config?.auth ?? 'user';
    if (mode === 'public' || mode === 'task') return;
    if (mode === 'any') {
      const token = bearer(req);
      if (token && !isUserToken(token)) return;
    }
    req.user = await ctx.userAuth.authenticate(req, { queryToken: config?.queryToken === true });
  });
}
