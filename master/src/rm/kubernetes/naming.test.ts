import { describe, expect, it } from 'vitest';
import { allocationLabels, dnsSlug, jobName, labelValue, MAX_JOB_NAME, rankLabelPatch, secretName } from './naming';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('kubernetes names and labels', () => {
  const odd = ['Ünïcode & co', 'x'.repeat(300), '---', '日本語の実験', 'a/b\\c:d e', '_leading.and.trailing_', 'UPPER-case', ''];
  it('Job names are DNS labels short enough for their pods, whatever the experiment is called', () => {
    for (const name of odd) {
      const n = jobName({ experimentName: name, trialId: 123456, allocationId: '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d' });
      expect(n.length).toBeLessThanOrEqual(MAX_JOB_NAME);
      expect(n).toMatch(DNS_LABEL);
      expect(n).toContain('t123456');
    }
    expect(jobName({ experimentName: 'MNIST Grid', trialId: 3, allocationId: 'abcdef12-0000' })).toBe('hone-mnist-grid-t3-abcdef12');
  });

  it('two allocations of one trial get different Job names', () => {
    const a = jobName({ experimentName: 'e', trialId: 1, allocationId: '11111111-aaaa' });
    const b = jobName({ experimentName: 'e', trialId: 1, allocationId: '22222222-aaaa' });
    expect(a).not.toBe(b);
  });

  it('label values are valid for any string, and long or changed ones stay distinct', () => {
    for (const s of odd) expect(labelValue(s)).toMatch(LABEL_VALUE);
    for (const s of odd) expect(labelValue(s).length).toBeLessThanOrEqual(63);
    expect(labelValue('plain-name_1.0')).toBe('plain-name_1.0');
    expect(labelValue(`${'a'.repeat(70)}1`)).not.toBe(labelValue(`${'a'.repeat(70)}2`));
    expect(labelValue('a b')).not.toBe(labelValue('a-b'));
  });

  it('labels carry the pool, experiment, trial and allocation', () => {
    const l = allocationLabels({ pool: 'gpu pool', experimentId: 7, experimentName: 'Ünïcode', trialId: 9, allocationId: 'abc' });
    expect(l['hone.ai/experiment']).toBe('7');
    expect(l['hone.ai/trial']).toBe('9');
    expect(l['hone.ai/allocation']).toBe('abc');
    for (const v of Object.values(l)) expect(v).toMatch(LABEL_VALUE);
  });

  it('dnsSlug folds and trims', () => {
    expect(dnsSlug('  Hello, World!  ', 63)).toBe('hello-world');
    expect(dnsSlug('abc-def', 4)).toBe('abc');
  });

  it('the task Secret is named by the allocation alone, validly, and distinctly', () => {
    expect(secretName('9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d')).toBe('hone-task-9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d');
    for (const id of [...odd, 'ABC', 'abc']) {
      expect(secretName(id)).toMatch(DNS_LABEL);
      expect(secretName(id).length).toBeLessThanOrEqual(63);
    }
    expect(secretName('ABC')).not.toBe(secretName('abc'));
    expect(secretName('x'.repeat(300))).not.toBe(secretName('x'.repeat(301)));
  });

  it('a pod is labelled with its first rank from its completion index, once', () => {
    const idx = (i: string, extra: Record<string, string> = {}) => ({ 'batch.kubernetes.io/job-completion-index': i, ...extra });
    expect(rankLabelPatch(idx('0'), 1)).toEqual({ metadata: { labels: { 'hone.ai/rank': '0' } } });
    expect(rankLabelPatch(idx('3'), 2)).toEqual({ metadata: { labels: { 'hone.ai/rank': '6' } } });
    expect(rankLabelPatch(idx('3', { 'hone.ai/rank': '6' }), 2)).toBeNull();
    expect(rankLabelPatch(idx('3', { 'hone.ai/rank': '3' }), 2)).toEqual({ metadata: { labels: { 'hone.ai/rank': '6' } } });
    expect(rankLabelPatch({}, 1)).toBeNull();
    expect(rankLabelPatch(idx('x'), 1)).toBeNull();
    expect(rankLabelPatch(undefined, 1)).toBeNull();
  });
});
