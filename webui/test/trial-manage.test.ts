// The trial page's management against a real master: the reproducibility record, Kill trial (that trial only),
// Continue (a new experiment from the trial's latest checkpoint), and Register on a checkpoint into the model
// registry, whose pages list the versions with who, when, the source trial, its hyperparameters and metrics.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExperimentDetail, ModelDetail, TrialDetail } from '@hone/protocol';
import { seedAllocations, seedExperiment, type QueryFn, type SeededExperiment } from './seed';
import { fakeAgent } from './browser';
import { describeBrowser, openPage, shot, startUiSession, type UiSession } from './session';

interface Fixture {
  done: SeededExperiment;
  live: SeededExperiment;
  running: number;
}

function modelDir(): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hone-model-'));
  fs.writeFileSync(path.join(dir, 'model_def.js'), 'export class MnistTrial {}\n');
  const r = spawnSync('tar', ['-czf', '-', '-C', dir, '.']);
  fs.rmSync(dir, { recursive: true, force: true });
  return r.stdout;
}

const RECORD = {
  contextDigest: 'ab'.repeat(32),
  configYaml: 'name: trial-manage\nsearcher:\n  name: random\n',
  seed: 1007,
  hparams: { lr: 0.01 },
  placement: [{ agentId: 'gpu-node-1', devices: [0, 1] }],
  devices: [
    { agentId: 'gpu-node-1', id: 0, type: 'gpu', brand: 'NVIDIA A100-SXM4-40GB' },
    { agentId: 'gpu-node-1', id: 1, type: 'gpu', brand: 'NVIDIA A100-SXM4-40GB' },
  ],
  harnessVersion: '0.1.0',
  tfjsVersion: '4.22.0',
  backend: 'wasm',
  nodeVersion: 'v20.19.0',
  allocationId: 'alloc-record',
  recordedAt: new Date(Date.now() - 3600_000).toISOString(),
};

async function seed(q: QueryFn): Promise<Fixture> {
  const done = await seedExperiment(q, { name: 'trial-manage', trials: 2, points: 10, checkpoints: 2, context: modelDir(), trial: (i) => (i === 1 ? { reproducibility: RECORD } : undefined) });
  const live = await seedExperiment(q, { name: 'trial-kill', state: 'ACTIVE', trials: 3, points: 3, context: modelDir(), searcherState: true, trial: () => ({ state: 'ACTIVE' }) });
  const running = live.trialIds[0]!;
  await seedAllocations(q, [{ id: `alloc-${running}`, trialId: running, experimentId: live.id, state: 'RUNNING', slots: 1, placement: [{ agentId: 'agent-k', devices: [0] }] }]);
  await q(`INSERT INTO agents (id, resource_pool, hostname, devices, version, connected, last_seen) VALUES ('agent-k', 'default', 'k.local', '[{"id":0,"type":"gpu","brand":"A100","uuid":"GPU-k-0"}]', '0.1.0', false, now())`);
  return { done, live, running };
}

describeBrowser('trial management and the model registry (browser)', () => {
  let s: UiSession<Fixture>;
  let agent: { close: () => void } | undefined;
  beforeAll(async () => {
    s = await startUiSession(seed);
    agent = await fakeAgent(s.master.url, { id: 'agent-k', gpus: 1, running: [{ allocationId: `alloc-${s.fx.running}`, rank: 0, pid: 4242 }] });
  });
  afterAll(async () => {
    agent?.close();
    await s?.close();
  });
  const getJson = async <T>(p: string): Promise<T> => {
    const r = await s.api(p);
    expect(r.status, p).toBe(200);
    return (await r.json()) as T;
  };

  it('shows the reproducibility record', async () => {
    const [withRecord, without] = s.fx.done.trialIds as [number, number];
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/trials/${withRecord}`);
    await page.waitForSelector('[data-testid="reproducibility"]');
    expect(await page.textContent('[data-testid="repro-digest"]')).toBe(`sha256:${'ab'.repeat(32)}`);
    expect(await page.textContent('[data-testid="repro-seed"]')).toBe('1007');
    expect(await page.textContent('[data-testid="repro-versions"]')).toBe('0.1.0 / 4.22.0 / v20.19.0');
    expect(await page.textContent('[data-testid="repro-backend"]')).toBe('wasm');
    expect(await page.textContent('[data-testid="repro-placement"]')).toBe('gpu-node-1: gpu0 (NVIDIA A100-SXM4-40GB), gpu1 (NVIDIA A100-SXM4-40GB)');
    await shot(page, 'trial-reproducibility');
    await page.goto(`${s.master.url}/trials/${without}`);
    await page.waitForSelector('[data-testid="reproducibility-none"]');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('kills one trial of a running experiment', async () => {
    const { live, running } = s.fx;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/trials/${running}`);
    await page.click('[data-action="kill-trial"]');
    await page.waitForSelector('[data-testid="kill-trial-dialog"][open]');
    await page.click('[data-testid="kill-trial-dialog"] [data-testid="confirm"]');
    // The dialog closes, or says why the master refused.
    await page.waitForSelector('[data-testid="kill-trial-dialog"] .error-box, body:not(:has([data-testid="kill-trial-dialog"]))');
    expect(await page.$eval('body', (b) => b.querySelector('[data-testid="kill-trial-dialog"] .error-box')?.textContent ?? null)).toBeNull();
    await page.waitForFunction(() => /STOPPING_CANCELED|CANCELED/.test(document.querySelector('.exp-title [data-state]')?.getAttribute('data-state') ?? ''), undefined, { timeout: 20_000 });
    const t = await getJson<TrialDetail>(`/trials/${running}`);
    expect(['STOPPING_CANCELED', 'CANCELED']).toContain(t.state);
    // The other trials go on.
    const others = (await getJson<ExperimentDetail>(`/experiments/${live.id}`)).trials.filter((x) => x.id !== running);
    expect(others.every((x) => x.state === 'ACTIVE')).toBe(true);
    await shot(page, 'trial-killed');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('continues an ended trial as a new experiment', async () => {
    const trialId = s.fx.done.trialIds[0]!;
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/trials/${trialId}`);
    await page.click('[data-action="continue-trial"]');
    await page.waitForSelector('[data-testid="continue-dialog"][open]');
    await page.fill('[data-testid="continue-length"]', '10');
    expect(await page.isDisabled('[data-testid="continue-dialog"] [data-testid="confirm"]')).toBe(true);
    await page.fill('[data-testid="continue-length"]', '2000');
    await shot(page, 'trial-continue-dialog');
    await page.click('[data-testid="continue-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="experiment-page"] [data-testid="source-trial"]');
    const newId = Number(await page.getAttribute('[data-testid="experiment-page"]', 'data-experiment-id'));
    expect(newId).not.toBe(s.fx.done.id);
    expect(await page.textContent('[data-testid="source-trial"]')).toContain(`trial ${trialId}`);
    const e = await getJson<ExperimentDetail>(`/experiments/${newId}`);
    expect(e.sourceTrialId).toBe(trialId);
    expect(e.config.searcher.max_length?.value).toBe(2000);
    await shot(page, 'trial-continued');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('registers checkpoints as versions of a model and shows them in the registry', async () => {
    const trialId = s.fx.done.trialIds[0]!;
    const trial = await getJson<TrialDetail>(`/trials/${trialId}`);
    const [older, newer] = [...trial.checkpoints].sort((a, b) => a.stepsCompleted - b.stepsCompleted);
    const { page, errors } = await openPage(s.ctx, `${s.master.url}/trials/${trialId}`);
    await page.click(`tr[data-checkpoint="${older!.uuid}"] [data-action="register"]`);
    await page.waitForSelector('[data-testid="register-dialog"][open]');
    await page.waitForSelector('[data-testid="register-model"]:not([disabled])');
    // No models yet: a new one is named here.
    await page.fill('[data-testid="register-new-name"]', 'mnist-classifier');
    await page.fill('[data-testid="register-new-description"]', 'digits');
    await shot(page, 'register-dialog');
    await page.click('[data-testid="register-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="register-dialog"]', { state: 'detached' });
    // The second checkpoint goes into the model that now exists.
    await page.click(`tr[data-checkpoint="${newer!.uuid}"] [data-action="register"]`);
    await page.waitForSelector('[data-testid="register-dialog"] [data-testid="register-model"]:not([disabled])');
    expect(await page.inputValue('[data-testid="register-model"]')).toBe('mnist-classifier');
    await page.fill('[data-testid="register-notes"]', 'longer training');
    await page.click('[data-testid="register-dialog"] [data-testid="confirm"]');
    await page.waitForSelector('[data-testid="register-dialog"]', { state: 'detached' });

    const m = await getJson<ModelDetail>('/models/mnist-classifier');
    expect(m.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(m.versions.map((v) => v.checkpointUuid)).toEqual([newer!.uuid, older!.uuid]);

    // The registry pages.
    await page.click('nav a[href="/models"]');
    await page.waitForSelector('[data-testid="models-table"] tr[data-model="mnist-classifier"]');
    expect(await page.textContent('[data-testid="models-table"] tr[data-model="mnist-classifier"]')).toContain('digits');
    await shot(page, 'models');
    await page.click('[data-testid="models-table"] a[href="/models/mnist-classifier"]');
    await page.waitForSelector('[data-testid="model-page"] [data-testid="model-versions"] tr[data-version="2"]');
    const v1 = '[data-testid="model-versions"] tr[data-version="1"]';
    expect(await page.textContent(`${v1} [data-testid="version-user"]`)).toBe('admin');
    expect(await page.getAttribute(`${v1} a[href^="/trials/"]`, 'href')).toBe(`/trials/${trialId}`);
    expect(await page.textContent(`${v1} [data-testid="version-hparams"]`)).toContain('lr=');
    expect(await page.textContent(`${v1} [data-testid="version-metrics"]`)).toContain('loss=');
    expect(await page.textContent('[data-testid="download-command"]')).toBe('hone model download mnist-classifier:2 -o ./mnist-classifier-v2');
    expect(await page.getAttribute(`${v1} [data-action="download-version"]`, 'href')).toBe(`/api/v1/checkpoints/${older!.uuid}/download`);
    await shot(page, 'model-page');
    expect(errors).toEqual([]);
    await page.close();
  });
});
