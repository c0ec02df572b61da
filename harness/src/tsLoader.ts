// User entrypoints may be TypeScript, and user code imports '@hone/harness' (TypeScript sources). A harness started
// through tsx (`node --import tsx main.ts`) has the loader already; the built harness (dist/harness.mjs) registers
// it here, once, before it imports user code: only the user's modules then go through it, not the harness's own.
let registered: Promise<void> | null = null;

function startedWithTsx(): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /(^|[/\\])tsx([/\\]|$)|tsx\/dist\/loader/.test(a));
}

export function ensureTypeScriptLoader(): Promise<void> {
  registered ??= (async () => {
    if (startedWithTsx()) return;
    const { register } = await import('tsx/esm/api');
    register();
  })();
  return registered;
}
