// Log in and create an account (DASHBOARD.md §6). After either, the page goes to `next` when it is a path of
// this origin, else to the dashboard.
import { FormEvent, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError, request } from '../api';
import { fieldErrorsOf, FieldErrors } from '../lib/form-errors';
import { sanitiseNext } from '../lib/next';
import { PageTitle } from '../components/ui';

function useAfterLogin() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const next = sanitiseNext(new URLSearchParams(search).get('next'));
  return {
    next,
    done: () => {
      queryClient.clear();
      navigate(next ?? '/dashboard', { replace: true });
    },
  };
}

export function LoginPage() {
  const { next, done } = useAfterLogin();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await request('/auth/login', {
        body: {
          username: String(form.get('username') ?? ''),
          password: String(form.get('password') ?? ''),
          remember: form.get('remember') === 'on',
        },
        allowUnauthenticated: true,
      });
      done();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The gateway did not answer');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="auth">
      <PageTitle text="Log in" />
      <form onSubmit={submit} className="stack">
        <label>
          Username
          <input name="username" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <label className="check">
          <input name="remember" type="checkbox" /> Remember me
        </label>
        {error && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
      <p>
        <Link href={next ? `/auth/register?next=${encodeURIComponent(next)}` : '/auth/register'}>
          Create an account
        </Link>
      </p>
    </main>
  );
}

const REGISTER_FIELDS: Array<[string, string, string, string]> = [
  ['username', 'Username', 'text', 'username'],
  ['email', 'Email', 'email', 'email'],
  ['password', 'Password', 'password', 'new-password'],
  ['confirm_password', 'Confirm password', 'password', 'new-password'],
  ['first_name', 'First name', 'text', 'given-name'],
  ['last_name', 'Last name', 'text', 'family-name'],
];

export function RegisterPage() {
  const { done } = useAfterLogin();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body: Record<string, string> = {};
    for (const [name] of REGISTER_FIELDS) {
      const value = String(form.get(name) ?? '');
      if (value !== '') body[name] = value;
    }
    setBusy(true);
    setErrors({});
    try {
      await request('/auth/register', { body, allowUnauthenticated: true });
      done();
    } catch (err) {
      setErrors(err instanceof ApiError ? fieldErrorsOf(err.body) : { _form: 'The gateway did not answer' });
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="auth">
      <PageTitle text="Create an account" />
      <form onSubmit={submit} className="stack" noValidate>
        {REGISTER_FIELDS.map(([name, label, type, autoComplete]) => (
          <div key={name} className="field">
            <label htmlFor={`reg-${name}`}>{label}</label>
            <input
              id={`reg-${name}`}
              name={name}
              type={type}
              autoComplete={autoComplete}
              aria-invalid={errors[name] ? true : undefined}
              aria-describedby={errors[name] ? `reg-${name}-error` : undefined}
            />
            {errors[name] && (
              <p id={`reg-${name}-error`} className="field-error">
                {errors[name]}
              </p>
            )}
          </div>
        ))}
        {errors._form && (
          <p role="alert" className="alert">
            {errors._form}
          </p>
        )}
        {Object.keys(errors).length > 0 && !errors._form && (
          <p role="alert" className="alert">
            Please correct the fields marked above.
          </p>
        )}
        <button type="submit" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        <Link href="/auth/login">Log in instead</Link>
      </p>
    </main>
  );
}
