// The model registry: the models (with a form to create one) and a model's page with its versions — who
// registered each and when, the source trial with its hyperparameters and metrics, and how to download it.
import { useEffect, useState } from 'react';
import type { ModelDetail, ModelInfo, Page } from '@hone/protocol';
import { download } from '../api';
import { useApi, markReady } from '../hooks';
import { Link, navigate, setQuery, useLocation } from '../router';
import { formatLocalTime, formatMetric, formatValue } from '@hone/protocol/format';
import { flattenHParams } from '../format';
import { actionError } from '../actionError';
import { createModel } from '../mgmtApi';
import { EmptyRow } from '../components/EmptyRow';
import { notify } from '../components/Toasts';
import '../mgmt.css';

export function ModelsPage() {
  const { query } = useLocation();
  const filter = query.get('name') ?? '';
  const models = useApi<Page<ModelInfo>>(`/models?limit=1000${filter ? `&name=${encodeURIComponent(filter)}` : ''}`);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (models.data || models.error) markReady();
  }, [models.data, models.error]);
  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      await createModel({ name: name.trim(), ...(description ? { description } : {}) });
      navigate(`/models/${encodeURIComponent(name.trim())}`);
    } catch (err) {
      setError(actionError(err, `create model “${name.trim()}”`));
    } finally {
      setBusy(false);
    }
  };
  const items = models.data?.items ?? [];
  return (
    <div className="page" data-testid="models-page">
      <div className="page-head">
        <h1>Models</h1>
        <span className="muted">{models.data ? `${models.data.total} models` : ''}</span>
        <input className="input" placeholder="Filter by name" defaultValue={filter} onChange={(e) => setQuery({ name: e.target.value }, { replace: true })} data-testid="models-filter" />
      </div>
      {models.error && <div className="error-box">Could not load models: {models.error.message}</div>}
      <div className="table-wrap">
        <table className="table" data-testid="models-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Owner</th>
              <th className="num">Versions</th>
              <th className="num">Latest</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.name} data-model={m.name}>
                <td>
                  <Link to={`/models/${encodeURIComponent(m.name)}`} className="strong">
                    {m.name}
                  </Link>
                  {m.labels.map((l) => (
                    <span key={l} className="label-chip">
                      {l}
                    </span>
                  ))}
                </td>
                <td className="muted">{m.description}</td>
                <td>{m.owner}</td>
                <td className="num">{m.numVersions}</td>
                <td className="num">{m.latestVersion ?? '–'}</td>
                <td className="nowrap">{formatLocalTime(m.updatedAt)}</td>
              </tr>
            ))}
            {models.data && items.length === 0 && <EmptyRow columns={6}>No models yet. Register a checkpoint from a trial page, or create a model below.</EmptyRow>}
          </tbody>
        </table>
      </div>
      <div className="card" data-testid="new-model">
        <div className="card-head">
          <h3>New model</h3>
        </div>
        {error && <div className="error-box">{error}</div>}
        <div className="toolbar">
          <input className="input" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} data-testid="new-model-name" />
          <input className="input grow" placeholder="description (optional)" value={description} onChange={(e) => setDescription(e.target.value)} data-testid="new-model-description" />
          <button type="button" className="btn btn-sm btn-primary" disabled={!name.trim() || busy} onClick={() => void create()} data-testid="create-model">
            Create model
          </button>
        </div>
      </div>
    </div>
  );
}

/** The CLI command that downloads a version (what the download button does, for a terminal). */
export function downloadCommand(model: string, version: number): string {
  const q = /^[A-Za-z0-9._-]+$/.test(model) ? model : `'${model.replace(/'/g, `'\\''`)}'`;
  return `hone model download ${q}:${version} -o ./${model.replace(/[^A-Za-z0-9._-]/g, '_')}-v${version}`;
}

export function ModelPage({ name }: { name: string }) {
  const model = useApi<ModelDetail>(`/models/${encodeURIComponent(name)}`);
  const m = model.data;
  useEffect(() => {
    if (m || model.error) markReady();
  }, [m, model.error]);
  if (model.error && !m)
    return (
      <div className="page">
        <div className="error-box">
          Could not load model {name}: {model.error.message}
        </div>
        <Link to="/models">← Models</Link>
      </div>
    );
  if (!m) return <div className="page muted">Loading model {name}…</div>;
  const latest = m.versions[0];
  return (
    <div className="page" data-testid="model-page" data-model={name}>
      <div className="crumbs">
        <Link to="/models">Models</Link> / <span>{name}</span>
      </div>
      <div className="exp-head card">
        <div className="exp-title">
          <h1>
            <span className="muted">Model</span> {m.name}
          </h1>
          {m.labels.map((l) => (
            <span key={l} className="label-chip">
              {l}
            </span>
          ))}
        </div>
        <dl className="facts">
          <div><dt>Owner</dt><dd>{m.owner}</dd></div>
          <div><dt>Versions</dt><dd data-testid="model-versions-count">{m.numVersions}</dd></div>
          <div><dt>Created</dt><dd>{formatLocalTime(m.createdAt)}</dd></div>
          <div><dt>Updated</dt><dd>{formatLocalTime(m.updatedAt)}</dd></div>
        </dl>
        {m.description && <p className="desc">{m.description}</p>}
        {latest && (
          <p>
            <span className="muted small">Download the latest version from a terminal:</span>
            <code className="cmd" data-testid="download-command">
              {downloadCommand(m.name, latest.version)}
            </code>
          </p>
        )}
      </div>
      <div className="card">
        <div className="card-head">
          <h3>Versions</h3>
          <span className="muted">newest first</span>
        </div>
        <div className="table-scroll">
          <table className="table" data-testid="model-versions">
            <thead>
              <tr>
                <th className="num">Version</th>
                <th>Registered</th>
                <th>By</th>
                <th>Source trial</th>
                <th className="num">Steps</th>
                <th>Hyperparameters</th>
                <th>Validation metrics</th>
                <th>Checkpoint</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {m.versions.map((v) => {
                const hp = flattenHParams(v.hparams ?? {});
                return (
                  <tr key={v.version} data-version={v.version}>
                    <td className="num strong">{v.version}</td>
                    <td className="nowrap">{formatLocalTime(v.registeredAt)}</td>
                    <td data-testid="version-user">{v.registeredBy}</td>
                    <td className="nowrap">
                      <Link to={`/trials/${v.trialId}`}>trial {v.trialId}</Link> <span className="muted">of</span> <Link to={`/experiments/${v.experimentId}`}>#{v.experimentId}</Link>
                    </td>
                    <td className="num">{v.stepsCompleted}</td>
                    <td className="mono small" data-testid="version-hparams">
                      {Object.entries(hp)
                        .map(([k, x]) => `${k}=${formatValue(x)}`)
                        .join(' ')}
                    </td>
                    <td className="mono small" data-testid="version-metrics">
                      {Object.entries(v.validationMetrics ?? {})
                        .map(([k, x]) => `${k}=${formatMetric(x)}`)
                        .join(' ') || '–'}
                    </td>
                    <td className="mono small" title={v.checkpointUuid}>
                      {v.checkpointUuid.slice(0, 8)}
                      {v.checkpointState === 'DELETED' && <span className="badge st-error"> deleted</span>}
                    </td>
                    <td className="nowrap">
                      {v.checkpointState === 'COMPLETED' && (
                        <a
                          className="btn btn-xs"
                          href={`/api/v1/checkpoints/${v.checkpointUuid}/download`}
                          download={`${m.name}-v${v.version}.tar.gz`}
                          data-action="download-version"
                          title={downloadCommand(m.name, v.version)}
                          onClick={(e) => {
                            e.preventDefault();
                            download(`/checkpoints/${v.checkpointUuid}/download`, `${m.name}-v${v.version}.tar.gz`).catch((err) => notify(actionError(err, `download ${m.name} version ${v.version}`)));
                          }}
                        >
                          ⤓ Download
                        </a>
                      )}
                    </td>
                  </tr>
                );
              })}
              {m.versions.length === 0 && <EmptyRow columns={9}>No versions yet: press Register on a checkpoint of a trial.</EmptyRow>}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}
