// Packs a model directory into a gzipped tar, honouring .honeignore (gitignore-style patterns).
import fs from 'node:fs';
import path from 'node:path';
import { HoneError } from '@hone/protocol/errors';

const ALWAYS_IGNORED = ['node_modules/', '.git/', '.hone/', '__pycache__/', '.DS_Store'];

interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split('\n')) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.startsWith('/') || line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const body = globToRegExp(line).source.slice(1, -1);
    rules.push({ re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`), negate, dirOnly });
  }
  return rules;
}

export function isIgnored(rules: Rule[], rel: string, isDir: boolean): boolean {
  let ignored = false;
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.re.test(rel)) ignored = !r.negate;
  }
  return ignored;
}

/** Lists the files of `dir` that go into the context (relative paths, sorted). */
export function listContextFiles(dir: string): string[] {
  const ignoreFile = path.join(dir, '.honeignore');
  const rules = parseIgnore(ALWAYS_IGNORED.join('\n') + '\n' + (fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : ''));
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!isIgnored(rules, r, true)) walk(r);
      } else if ((e.isFile() || e.isSymbolicLink()) && !isIgnored(rules, r, false)) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Whether `dir` holds any file at all, ignored or not (stops at the first). */
function holdsAnyFile(dir: string): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || holdsAnyFile(path.join(dir, e.name))) return true;
  }
  return false;
}

/** The files of the model directory `dir` that would be uploaded; refuses one that does not exist or leaves nothing to upload. */
export function modelDirFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new HoneError('INVALID_ARGUMENT', `model directory ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new HoneError('INVALID_ARGUMENT', `model directory ${dir} is not a directory`);
  const files = listContextFiles(dir);
  if (files.length) return files;
  if (!holdsAnyFile(dir)) throw new HoneError('INVALID_ARGUMENT', `model directory ${dir} is empty: it should hold the model code the entrypoint names`);
  throw new HoneError(
    'INVALID_ARGUMENT',
    `every file in model directory ${dir} is ignored (by its .honeignore, or always: ${ALWAYS_IGNORED.join(' ')}); nothing is left to upload`,
  );
}

/** Packs `files` of `dir` (by default all that `modelDirFiles` lists) into a gzipped tar of at most `maxBytes`. */
export async function packContext(dir: string, maxBytes: number, files = modelDirFiles(dir)): Promise<{ data: Buffer; files: number }> {
  let raw = 0;
  for (const f of files) raw += fs.statSync(path.join(dir, f)).size;
  if (raw > maxBytes * 4) {
    throw new HoneError(
      'CONTEXT_TOO_LARGE',
      `model directory ${dir} holds ${(raw / 1048576).toFixed(1)} MiB in ${files.length} files, far over the ${(maxBytes / 1048576).toFixed(0)} MiB limit; list data and outputs in .honeignore`,
    );
  }
  // Loaded here, not at start-up: only `experiment create` packs.
  const tar = await import('tar');
  const chunks: Buffer[] = [];
  const stream = tar.c({ gzip: true, cwd: dir, portable: true, follow: true }, files);
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  const data = Buffer.concat(chunks);
  if (data.length > maxBytes) {
    throw new HoneError('CONTEXT_TOO_LARGE', `model directory ${dir} is ${(data.length / 1048576).toFixed(1)} MiB compressed, over the ${(maxBytes / 1048576).toFixed(0)} MiB limit; list data and outputs in .honeignore`);
  }
  return { data, files: files.length };
}
