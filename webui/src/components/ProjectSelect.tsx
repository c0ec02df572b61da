// A project picker for filters: "All projects" and every project the master knows (GET /projects).
import type { Page, ProjectInfo } from '@hone/protocol';
import { useApi } from '../hooks';

/** GET /projects may answer a list or a page; either way, the projects. */
export function projectList(d: ProjectInfo[] | Page<ProjectInfo> | undefined): ProjectInfo[] {
  if (!d) return [];
  return Array.isArray(d) ? d : d.items;
}

export function ProjectSelect({ value, onChange, testId }: { value: string; onChange: (project: string) => void; testId: string }) {
  const projects = useApi<ProjectInfo[] | Page<ProjectInfo>>('/projects');
  const list = projectList(projects.data);
  return (
    <select className="input" value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId} title="project">
      <option value="">All projects</option>
      {list.map((p) => (
        <option key={p.name} value={p.name}>
          {p.name}
        </option>
      ))}
      {value && !list.some((p) => p.name === value) && <option value={value}>{value}</option>}
    </select>
  );
}
