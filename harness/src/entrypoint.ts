// Loads the user's entrypoint. `file.ts:exportName` names a Trial API factory (like Determined's `model_def:MyTrial`);
// a bare `file.ts` names a module whose default export is a core API function `async (core) => void`.
// defineTrial / defineCore mark a function explicitly, which overrides that rule.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ENTRYPOINT_EXTENSIONS, parseEntrypoint } from '@hone/protocol/entrypoint';
import type { CoreContext } from './core/context';
import type { TrialFactory } from './trial/types';

export type CoreEntrypoint = (core: CoreContext) => void | Promise<void>;

const KIND = Symbol.for('hone.entrypoint.kind');

export function defineTrial<F extends TrialFactory>(factory: F): F {
  Object.defineProperty(factory, KIND, { value: 'trial' });
  return factory;
}

export function defineCore<F extends CoreEntrypoint>(fn: F): F {
  Object.defineProperty(fn, KIND, { value: 'core' });
  return fn;
}

export type LoadedEntrypoint = { kind: 'trial'; factory: TrialFactory; name: string } | { kind: 'core'; run: CoreEntrypoint; name: string };


function resolveFile(file: string, cwd: string): string {
  const base = path.resolve(cwd, file);
  for (const candidate of [base, ...ENTRYPOINT_EXTENSIONS.map((e) => `${base}${e}`)]) if (existsSync(candidate)) return candidate;
  throw new Error(`entrypoint: ${file} not found in ${cwd}`);
}

export async function loadEntrypoint(spec: string, cwd = process.cwd()): Promise<LoadedEntrypoint> {
  const { file, exportName } = parseEntrypoint(spec);
  if (!file) throw new Error(`entrypoint "${spec}" names no file (expected file.ts:exportName or file.ts)`);
  const mod = (await import(pathToFileURL(resolveFile(file, cwd)).href)) as Record<string, unknown>;
  const name = exportName ?? 'default';
  const fn = mod[name];
  if (typeof fn !== 'function') {
    const exported = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new Error(`entrypoint: ${file} has no exported function "${name}" (functions it exports: ${exported.join(', ') || 'none'})`);
  }
  const marked = (fn as unknown as Record<symbol, unknown>)[KIND];
  const kind = marked === 'trial' || marked === 'core' ? marked : exportName ? 'trial' : 'core';
  return kind === 'trial'
    ? { kind, factory: fn as TrialFactory, name: `${file}:${name}` }
    : { kind, run: fn as CoreEntrypoint, name: `${file}:${name}` };
}
