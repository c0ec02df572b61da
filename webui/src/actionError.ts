// The message for an action that failed (pause, a download, an export): a refusal (403) says so in the master's
// words; it is shown beside the action or as a toast, never as an error page.
import type { ApiError } from './api';

export function actionError(err: unknown, what: string): string {
  const e = err as Partial<ApiError> | undefined;
  if (e?.status === 403 || e?.code === 'PERMISSION_DENIED') return `Not allowed to ${what}: ${e.message}`;
  if (e?.status === 429) return `Too many requests; could not ${what}${e.retryAfterS !== undefined ? ` (try again in ${e.retryAfterS} s)` : ''}.`;
  return e?.message ? `Could not ${what}: ${e.message}` : `Could not ${what}.`;
}
