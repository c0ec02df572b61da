// Pure parts of signing in and of who may do what: Retry-After, where the login page may send someone, the
// permission rule the buttons explain, the audit log in words, and the messages of failed actions. No browser.
import { describe, expect, it } from 'vitest';
import { HoneError } from '@hone/protocol/errors';
import type { AuditEntry, UserInfo } from '@hone/protocol/auth';
import { parseRetryAfter } from '../src/api';
import { safeLocalPath } from '../src/localPath';
import { mayChangeExperiment } from '../src/permissions';
import { auditAction, auditDetails } from '../src/audit';
import { actionError } from '../src/actionError';

const user = (username: string, admin = false): UserInfo => ({ username, admin, active: true, createdAt: '2026-01-01T00:00:00Z' });
const entry = (action: string, details: Record<string, unknown> = {}): AuditEntry => ({ at: '2026-01-01T00:00:00Z', username: 'alice', action, details });

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('42')).toBe(42);
    expect(parseRetryAfter(' 7 ')).toBe(7);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('the page after signing in', () => {
  const origin = 'http://master:8080';
  it('is a path of this site, with its query string and hash', () => {
    expect(safeLocalPath('/experiments/3/trials?state=ACTIVE&sort=best#x', origin)).toBe('/experiments/3/trials?state=ACTIVE&sort=best#x');
    expect(safeLocalPath('/cluster', origin)).toBe('/cluster');
  });
  it('is never another site, a script, or the login page again', () => {
    for (const bad of ['//evil.example/x', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', 'experiments', '', null, undefined, '/login', '/login?next=/x'])
      expect(safeLocalPath(bad, origin)).toBeNull();
  });
});

describe('who may change an experiment', () => {
  it('its owner and admins; anyone while the user is not known yet (the master decides)', () => {
    expect(mayChangeExperiment(user('alice'), 'alice', 'pause')).toEqual({ ok: true });
    expect(mayChangeExperiment(user('root', true), 'alice', 'kill')).toEqual({ ok: true });
    expect(mayChangeExperiment(null, 'alice', 'kill')).toEqual({ ok: true });
  });
  it('says why not to anyone else', () => {
    const p = mayChangeExperiment(user('bob'), 'alice', 'pause');
    expect(p.ok).toBe(false);
    expect(!p.ok && p.reason).toBe('Only the owner (alice) or an admin can pause this experiment; you are signed in as bob.');
  });
});

describe('the audit log in words', () => {
  it('names the action', () => {
    expect(auditAction(entry('create'))).toBe('created the experiment');
    expect(auditAction(entry('pause'))).toBe('paused the experiment');
    expect(auditAction(entry('activate'))).toBe('activated the experiment');
    expect(auditAction(entry('kill'))).toBe('killed the experiment');
    expect(auditAction(entry('set priority'))).toBe('set priority');
    expect(auditAction(entry('set max_slots'))).toBe('set max slots');
    // A verb this UI does not know is said exactly as the master stored it.
    expect(auditAction(entry('move_to_workspace'))).toBe('move_to_workspace');
  });
  it('says what changed', () => {
    expect(auditDetails(entry('set priority', { from: 10, to: 20 }))).toBe('from 10 to 20');
    expect(auditDetails(entry('set weight', { to: 2 }))).toBe('to 2');
    expect(auditDetails(entry('set max_slots', { old: null, new: 4 }))).toBe('from – to 4');
    expect(auditDetails(entry('kill', { reason: 'stuck', trials: 3 }))).toBe('reason: stuck, trials: 3');
    expect(auditDetails(entry('pause'))).toBe('');
  });
});

describe('messages of failed actions', () => {
  it('a refusal says it was not allowed, in the master’s words', () => {
    const e = new HoneError('PERMISSION_DENIED', 'only its owner (alice) or an admin may pause experiment 3');
    expect(actionError(e, 'pause experiment 3')).toBe('Not allowed to pause experiment 3: only its owner (alice) or an admin may pause experiment 3');
  });
  it('throttling says when to try again; anything else quotes the error', () => {
    const t = Object.assign(new HoneError('RESOURCE_EXHAUSTED', 'slow down'), { retryAfterS: 12 });
    expect(actionError(t, 'download')).toBe('Too many requests; could not download (try again in 12 s).');
    expect(actionError(new HoneError('NOT_FOUND', 'checkpoint x not found'), 'download')).toBe('Could not download: checkpoint x not found');
  });
});
