#!/usr/bin/env bash
# Runs every check and test: lint, formatting, types, unit tests, then integration tests against real Redis,
# SQLite, PostgreSQL, nmap (loopback targets only) and real worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh

ensure_node
# redis-server also for the fault tests, which run a private one they can stop and restart empty.
ensure_commands nmap:nmap redis-server:redis-server
# The dashboard's browser tests (test/web) drive Debian's Chromium through playwright-core, which never downloads one.
command -v chromium >/dev/null 2>&1 || apt_install --no-install-recommends chromium fonts-liberation
ensure_node_modules
ensure_build

export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
REDIS_PERSIST=no ensure_redis "$TEST_REDIS_URL"
trap stop_started_redis EXIT
source scripts/lib/postgres.sh
ensure_postgres

log "lint and formatting"
npm run --silent lint
npm run --silent format:check
npm run --silent typecheck

log "tests"
mkdir -p .tmp
status=0
npx jest --ci --maxWorkers=2 --json --outputFile=.tmp/jest-results.json "$@" || status=$?
# One plain closing line that any CI can read, whatever the runner prints above it.
node -e '
  const r = require("./.tmp/jest-results.json");
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' 2>/dev/null || true
exit "$status"
