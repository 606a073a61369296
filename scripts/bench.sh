#!/usr/bin/env bash
# The benchmarks (bench/README.md) on a fresh machine: installs what they run and compare against when missing
# (nmap, Debian's ndiff, GNU time for peak RSS, redis-server), the npm dependencies and the build, starts a local
# redis-server when none answers at BENCH_REDIS_URL (stopped again at the end), then runs bench/run.ts with the
# arguments given: `npm run bench -- wide --out /tmp/wide.md`. PostgreSQL is set up as `npm test` does it (a local one is
# installed and started when none answers on 127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh

ensure_node
ensure_commands nmap:nmap ndiff:ndiff /usr/bin/time:time redis-server:redis-server
ensure_node_modules
ensure_build
export BENCH_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
REDIS_PERSIST=no ensure_redis "$BENCH_REDIS_URL"
trap stop_started_redis EXIT
# Some benchmarks measure both databases unless --db names one.
source scripts/lib/postgres.sh
ensure_postgres
npx ts-node -r tsconfig-paths/register --transpile-only bench/run.ts "$@"
