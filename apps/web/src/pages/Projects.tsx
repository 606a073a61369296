// Projects group scans.
import { FormEvent, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { request } from '../api';
import { Confirmation, DataTable, ErrorAlert, PageTitle, useFlash } from '../components/ui';
import { Project } from './types';

export function ProjectsPage() {
  const queryClient = useQueryClient();
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => request<Project[]>('/api/projects') });
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [flash, setFlash] = useFlash();
  const create = useMutation({
    mutationFn: () =>
      request<Project>('/api/projects', { body: description ? { name, description } : { name } }),
    onSuccess: (p) => {
      setFlash(`Project ${p.name} created`);
      setName('');
      setDescription('');
      void queryClient.invalidateQueries({ queryKey: ['projects'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <>
      <PageTitle text="Projects" />
      <form onSubmit={submit} className="stack narrow">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Description
          <textarea value={description} onChange={(e) => setDescription(e.target.value)} rows={2} />
        </label>
        <button type="submit" disabled={create.isPending}>
          Create project
        </button>
      </form>
      <ErrorAlert error={create.error ?? projects.error} />
      <Confirmation text={flash} />
      <DataTable
        query={projects}
        caption="Projects"
        columns={['Name', 'Description']}
        empty="No projects yet: create one above."
      >
        {(projects.data ?? []).map((p) => (
          <tr key={p.id}>
            <td>{p.name}</td>
            <td>{p.description ?? ''}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}
