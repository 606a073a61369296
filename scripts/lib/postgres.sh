# Finds the PostgreSQL the integration tests use, or installs and starts a local one (loopback only).
# TEST_DATABASE_URL wins; the default is the trust-auth server of a developer machine.

ensure_postgres() {
  export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
  if port_open 127.0.0.1 5432 || [[ "$TEST_DATABASE_URL" != *"@127.0.0.1:5432/"* ]]; then return 0; fi
  log "no PostgreSQL on 127.0.0.1:5432: installing and starting a local one"
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster "$version" main start || true
  for _ in $(seq 100); do port_open 127.0.0.1 5432 && break; sleep 0.1; done
  port_open 127.0.0.1 5432 || die "PostgreSQL did not start"
  as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  as_root su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\" | grep -q 1 || createdb test"
  export TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/test
}
