#!/usr/bin/env bash
# Quick start: installs what is missing, then runs gateway, one worker and the delta service on the embedded
# defaults (SQLite under ./data, Redis at REDIS_URL or a local redis-server started here). Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh

ensure_node
ensure_commands nmap:nmap
ensure_node_modules
ensure_build
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
ensure_redis "$REDIS_URL"
mkdir -p data

# The first admin: ADMIN_PASSWORD when given, else a random one generated once and kept in data/admin-password.
if [ -z "${ADMIN_PASSWORD:-}" ]; then
  if [ ! -s data/admin-password ]; then
    (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url"))' > data/admin-password)
  fi
  ADMIN_PASSWORD=$(cat data/admin-password)
  export ADMIN_PASSWORD
  admin_hint="password in data/admin-password"
else
  admin_hint="password from ADMIN_PASSWORD"
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  stop_started_redis
}
trap stop_all INT TERM EXIT

# Metrics (METRICS_PORT, off by default): each process serves its own page, so the three get consecutive ports —
# gateway METRICS_PORT, worker METRICS_PORT+1, delta METRICS_PORT+2 (docs/monitoring.md).
metrics_port() { [ "${METRICS_PORT:-0}" -gt 0 ] && echo $((METRICS_PORT + $1)) || echo 0; }

# The gateway migrates the database first; worker and delta start once it listens.
METRICS_PORT=$(metrics_port 0) node dist/apps/gateway/apps/gateway/src/main.js & pids+=($!)
for _ in $(seq 300); do port_open "${HOST:-127.0.0.1}" "${PORT:-3000}" && break; kill -0 "${pids[0]}" 2>/dev/null || exit 1; sleep 0.1; done
METRICS_PORT=$(metrics_port 1) node dist/apps/worker/apps/worker/src/main.js & pids+=($!)
METRICS_PORT=$(metrics_port 2) node dist/apps/delta/apps/delta/src/main.js & pids+=($!)
if [ "${METRICS_PORT:-0}" -gt 0 ]; then
  log "metrics on http://${METRICS_HOST:-127.0.0.1}:{$(metrics_port 0),$(metrics_port 1),$(metrics_port 2)}/metrics (gateway, worker, delta)"
fi
# Ready means a scan can run: /api/health says `"ready": true` once the worker's pool has beaten (an approved
# client is online). Until then a start would be refused, so nothing says "ready" before.
api="http://${HOST:-127.0.0.1}:${PORT:-3000}/api"
for _ in $(seq 600); do
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || exit 1; done
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => r.json())
    .then((b) => process.exit(b.ready === true ? 0 : 1), () => process.exit(1))' "$api/health" && ready=1 && break
  sleep 0.2
done
[ -n "${ready:-}" ] || log "no approved scanner client came online within 2 minutes: scans will be refused until one does"
log "API ready on $api  (OpenAPI: /api/docs)  — Ctrl-C stops everything"
log "log in as ${ADMIN_USERNAME:-admin} (${admin_hint})"
# Stop everything if any one of the three exits.
wait -n "${pids[@]}"
