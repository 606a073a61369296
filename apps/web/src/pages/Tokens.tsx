// API tokens: create one (its secret shown once, with a copy button), list and revoke.
import { FormEvent, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, request } from '../api';
import {
  ConfirmDialog,
  Confirmation,
  DataTable,
  ErrorAlert,
  PageTitle,
  Time,
  useFlash,
} from '../components/ui';
import { fieldErrorsOf } from '../lib/form-errors';

interface Token {
  id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export function TokensPage() {
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => request<Token[]>('/api/tokens') });
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const [flash, setFlash] = useFlash();
  const create = useMutation({
    mutationFn: (n: string) =>
      request<{ id: number; name: string; token: string }>('/api/tokens', { body: { name: n } }),
    onSuccess: (body) => {
      setSecret(body.token);
      setName('');
      setFlash(`Token ${body.name} created: copy it now, it is not shown again`);
      void queryClient.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: number) => request(`/api/tokens/${id}`, { method: 'DELETE' }),
    onSuccess: () => {
      setFlash(`Token ${revoking?.name ?? ''} revoked`);
      setRevoking(null);
      void queryClient.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(name);
  };
  const nameError =
    create.error instanceof ApiError
      ? (fieldErrorsOf(create.error.body, { name: 'name' }).name ?? null)
      : null;
  return (
    <>
      <PageTitle text="API tokens" />
      <p>
        Tokens let scripts and REST clients use the API: send <code>Authorization: Bearer &lt;token&gt;</code>
        .
      </p>
      <form onSubmit={submit} className="inline-form" noValidate>
        <div className="field">
          <label htmlFor="token-name">Token name</label>
          <input
            id="token-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? 'token-name-error' : undefined}
          />
          {nameError && (
            <p id="token-name-error" className="field-error">
              {nameError}
            </p>
          )}
        </div>
        <button type="submit" disabled={create.isPending}>
          Create token
        </button>
      </form>
      {!nameError && <ErrorAlert error={create.error} />}
      {secret && (
        <div className="inline-form secret">
          <label>
            New token
            <input readOnly value={secret} onFocus={(e) => e.target.select()} size={50} />
          </label>
          <button
            type="button"
            onClick={() =>
              void navigator.clipboard.writeText(secret).then(
                () => setFlash('Token copied'),
                () => setFlash('Copy failed: select the token and copy it'),
              )
            }
          >
            Copy token
          </button>
        </div>
      )}
      <Confirmation text={flash} />
      <ErrorAlert error={tokens.error} />
      <DataTable
        query={tokens}
        caption="API tokens"
        columns={['Name', 'Created', 'Last used', 'Actions']}
        empty="No tokens yet: create one above."
      >
        {(tokens.data ?? []).map((t) => (
          <tr key={t.id}>
            <td>{t.name}</td>
            <td>
              <Time value={t.created_at} />
            </td>
            <td>
              <Time value={t.last_used_at} />
            </td>
            <td className="row-actions">
              <button type="button" onClick={() => setRevoking(t)}>
                Revoke
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <ConfirmDialog
        open={revoking !== null}
        heading={`Revoke token ${revoking?.name ?? ''}?`}
        action="Revoke token"
        busy={revoke.isPending}
        error={revoke.error}
        onCancel={() => setRevoking(null)}
        onConfirm={() => revoking && revoke.mutate(revoking.id)}
      >
        <p>Every script using it gets 401 from the next request on.</p>
      </ConfirmDialog>
    </>
  );
}
