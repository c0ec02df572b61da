// Projects: the list (with a form to create one) and a project's page (its experiments, the list filtered).
import { useEffect, useState } from 'react';
import type { Page, ProjectInfo } from '@hone/protocol';
import { useApi, markReady } from '../hooks';
import { Link, navigate } from '../router';
import { formatLocalTime } from '@hone/protocol/format';
import { actionError } from '../actionError';
import { createProject } from '../mgmtApi';
import { EmptyRow } from '../components/EmptyRow';
import { projectList } from '../components/ProjectSelect';
import { ExperimentsList } from './Experiments';
import '../mgmt.css';

export function ProjectsPage() {
  const projects = useApi<ProjectInfo[] | Page<ProjectInfo>>('/projects');
  const list = projectList(projects.data);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (projects.data || projects.error) markReady();
  }, [projects.data, projects.error]);
  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      await createProject({ name: name.trim(), ...(description ? { description } : {}) });
      navigate(`/projects/${encodeURIComponent(name.trim())}`);
    } catch (err) {
      setError(actionError(err, `create project “${name.trim()}”`));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="page" data-testid="projects-page">
      <div className="page-head">
        <h1>Projects</h1>
        <span className="muted">{projects.data ? `${list.length} projects` : ''}</span>
      </div>
      {projects.error && <div className="error-box">Could not load projects: {projects.error.message}</div>}
      <div className="table-wrap">
        <table className="table" data-testid="projects-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Owner</th>
              <th className="num">Experiments</th>
              <th className="num">Active</th>
              <th>Latest experiment</th>
            </tr>
          </thead>
          <tbody>
            {list.map((p) => (
              <tr key={p.name} data-project={p.name}>
                <td>
                  <Link to={`/projects/${encodeURIComponent(p.name)}`} className="strong">
                    {p.name}
                  </Link>
                </td>
                <td className="muted">{p.description}</td>
                <td>{p.owner}</td>
                <td className="num">{p.numExperiments}</td>
                <td className="num">{p.numActiveExperiments}</td>
                <td className="nowrap">{formatLocalTime(p.lastExperimentStartedAt)}</td>
              </tr>
            ))}
            {projects.data && list.length === 0 && <EmptyRow columns={6}>No projects.</EmptyRow>}
          </tbody>
        </table>
      </div>
      <div className="card" data-testid="new-project">
        <div className="card-head">
          <h3>New project</h3>
          <span className="muted small">a grouping of experiments (`project:` in a config, or `--project`)</span>
        </div>
        {error && <div className="error-box">{error}</div>}
        <div className="toolbar">
          <input className="input" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} data-testid="new-project-name" />
          <input className="input grow" placeholder="description (optional)" value={description} onChange={(e) => setDescription(e.target.value)} data-testid="new-project-description" />
          <button type="button" className="btn btn-sm btn-primary" disabled={!name.trim() || busy} onClick={() => void create()} data-testid="create-project">
            Create project
          </button>
        </div>
      </div>
    </div>
  );
}

export function ProjectPage({ name }: { name: string }) {
  const project = useApi<ProjectInfo>(`/projects/${encodeURIComponent(name)}`);
  const p = project.data;
  return (
    <div className="page" data-testid="project-page" data-project={name}>
      <div className="crumbs">
        <Link to="/projects">Projects</Link> / <span>{name}</span>
      </div>
      <div className="exp-head card">
        <div className="exp-title">
          <h1>
            <span className="muted">Project</span> {name}
          </h1>
          <span className="spacer" />
          <Link className="btn btn-sm" to={`/experiments?view=runs&project=${encodeURIComponent(name)}`} data-testid="project-runs">
            Runs of this project
          </Link>
        </div>
        {project.error && <div className="error-box">Could not load project {name}: {project.error.message}</div>}
        {p && (
          <dl className="facts">
            <div><dt>Owner</dt><dd>{p.owner}</dd></div>
            <div><dt>Experiments</dt><dd data-testid="project-experiments">{p.numExperiments}</dd></div>
            <div><dt>Active</dt><dd>{p.numActiveExperiments}</dd></div>
            <div><dt>Created</dt><dd>{formatLocalTime(p.createdAt)}</dd></div>
          </dl>
        )}
        {p?.description && <p className="desc">{p.description}</p>}
      </div>
      <ExperimentsList project={name} />
    </div>
  );
}
