// Config overrides for fork and continue: merged onto the original's config as the user wrote it. Pure.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Merges `override` onto `base`: mappings merge key by key, anything else (lists included) replaces, and a null
 * removes the key. Neither input is changed.
 */
export function mergeOverrides(base: Obj, override: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = mergeOverrides(out[k] as Obj, v);
    else out[k] = v;
  }
  return out;
}

/** Hyperparameter values as `const` specs (nested values become nested specs), to train one trial again. */
export function constHyperparameters(hparams: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(hparams)) out[k] = isObj(v) ? constHyperparameters(v) : { type: 'const', val: v };
  return out;
}
