// Kubernetes label and field selectors, as the API server reads them from `?labelSelector=` and `?fieldSelector=`.

type Req = (labels: Record<string, string>) => boolean;

/** `a=b,c!=d,e,!f,g in (x,y),h notin (z)`: every requirement must hold. */
export function parseLabelSelector(sel: string | null | undefined): Req {
  if (!sel) return () => true;
  const reqs: Req[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$/.exec(p))) {
      const [, k, op, vals] = m;
      const set = new Set(vals!.split(',').map((v) => v.trim()));
      reqs.push(op === 'in' ? (l) => l[k!] !== undefined && set.has(l[k!]!) : (l) => l[k!] === undefined || !set.has(l[k!]!));
    } else if ((m = /^([^\s!=]+)\s*!=\s*(.*)$/.exec(p))) {
      const [, k, v] = m;
      reqs.push((l) => l[k!] !== v);
    } else if ((m = /^([^\s!=]+)\s*==?\s*(.*)$/.exec(p))) {
      const [, k, v] = m;
      reqs.push((l) => l[k!] === v);
    } else if ((m = /^!([^\s!=]+)$/.exec(p))) {
      const k = m[1]!;
      reqs.push((l) => l[k] === undefined);
    } else {
      reqs.push((l) => l[p] !== undefined);
    }
  }
  return (labels) => reqs.every((r) => r(labels));
}

/** `metadata.name=x,involvedObject.kind=Pod,status.phase!=Running`: dotted paths into the object. */
export function parseFieldSelector(sel: string | null | undefined): (obj: unknown) => boolean {
  if (!sel) return () => true;
  const reqs = sel.split(',').map((p) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(p.trim());
    if (!m) throw new Error(`bad field selector "${p}"`);
    const [, path, op, v] = m;
    const get = (o: unknown) => path!.split('.').reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);
    return op === '!=' ? (o: unknown) => String(get(o) ?? '') !== v : (o: unknown) => String(get(o) ?? '') === v;
  });
  return (obj) => reqs.every((r) => r(obj));
}
