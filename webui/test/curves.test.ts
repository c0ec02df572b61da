// Pure parts of the UI: the curves request (and that index.html's boot script builds the very same URL),
// smoothing and CSV. No browser needed.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { curvesPath } from '../src/curves';
import { ema, toCsv } from '../src/format';
import { REPO_ROOT } from './master';

/** Runs index.html's boot script (public/boot.js) against a fake browser and returns the curves URL it requests. */
async function bootCurvesPath(pathname: string, search: string, id: number, token: string | null = 'hone_test'): Promise<string | null> {
  const script = fs.readFileSync(path.join(REPO_ROOT, 'webui/public/boot.js'), 'utf8');
  const requested: string[] = [];
  const ctx: Record<string, unknown> = {
    location: { pathname, search },
    localStorage: { getItem: (k: string) => (k === 'hone.token' ? token : null) },
    URLSearchParams,
    fetch: (url: string) => {
      requested.push(url);
      return new Promise(() => undefined);
    },
  };
  ctx.window = ctx;
  vm.runInNewContext(script, ctx);
  const pending = ctx.__honePrefetch as { curves?: Promise<{ path: string } | null> } | undefined;
  if (!pending?.curves) return null;
  const c = await pending.curves;
  // Both at once: the curves request does not wait for the experiment's answer (which never comes here).
  expect(requested).toEqual([`/api/v1/experiments/${id}`, `/api/v1${c!.path}`]);
  return c!.path;
}

describe('curves request', () => {
  it('asks for a point budget, not a size per curve, and names the metric only when the page does', () => {
    expect(curvesPath({ id: 12 }, new URLSearchParams(''))).toBe('/experiments/12/metrics?group=validation&point_budget=20000');
    expect(curvesPath({ id: 12 }, new URLSearchParams('?group=training&metric=loss%2Fce'))).toBe('/experiments/12/metrics?group=training&metric=loss%2Fce&point_budget=20000');
  });

  it('is built identically by the boot script in index.html and by the app, before the experiment has arrived', async () => {
    for (const search of ['', '?metric=accuracy', '?group=training&metric=loss%2Fce']) {
      const q = new URLSearchParams(search);
      expect(await bootCurvesPath('/experiments/12', search, 12)).toBe(curvesPath({ id: 12 }, q));
      expect(await bootCurvesPath('/experiments/12/curves', search, 12)).toBe(curvesPath({ id: 12 }, q));
    }
  });

  it('is not started by the boot script on other pages, nor without a token (the login form comes up)', async () => {
    expect(await bootCurvesPath('/experiments/12/trials', '', 12)).toBeNull();
    expect(await bootCurvesPath('/experiments', '', 12)).toBeNull();
    expect(await bootCurvesPath('/experiments/12', '', 12, null)).toBeNull();
  });

  it("is loaded from a file, not inline: the master's CSP allows no inline script", () => {
    const html = fs.readFileSync(path.join(REPO_ROOT, 'webui/index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc=/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+=|style=|<style|data:/i);
  });
});

describe('formatting', () => {
  it('smooths with a debiased EMA that starts at the first value', () => {
    expect(ema([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = ema([4, 4, 4, 8], 0.5);
    expect(s[0]).toBeCloseTo(4);
    expect(s[2]).toBeCloseTo(4);
    expect(s[3]).toBeGreaterThan(4);
    expect(s[3]).toBeLessThan(8);
    expect(ema([NaN, 2], 0.9)[1]).toBeCloseTo(2);
  });

  it('quotes CSV cells that need it', () => {
    expect(toCsv(['a', 'b'], [[1, 'x,y'], [null, 'say "hi"'], [{ k: 1 }, undefined]])).toBe('a,b\n1,"x,y"\n,"say ""hi"""\n"{""k"":1}",\n');
  });

  it('keeps stored text from running as a spreadsheet formula, numbers as they are', () => {
    const csv = toCsv(['=cmd|calc', 'b'], [['=HYPERLINK("http://x")', -0.5], ['+1+2', '-3'], ['@SUM(A1)', '-1e-3'], ['\tx', 'ok'], ['-', 'a-b']]);
    expect(csv.split('\n')).toEqual(["'=cmd|calc,b", `"'=HYPERLINK(""http://x"")",-0.5`, "'+1+2,-3", "'@SUM(A1),-1e-3", "'\tx,ok", "'-,a-b", '']);
  });
});
