# Shared set-up of scripts/start.sh and scripts/test.sh: install what is missing, build, find or start services.
# Sourced, not run. Every step says what it does; nothing is installed that is already there.

log() { printf '\033[1m[netscan]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (run it as root, then start again)"
  fi
}

apt_updated=
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "install $* with your package manager, then start again"
  if [ -z "$apt_updated" ]; then log "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_commands() {
  # ensure_commands <command>:<debian package> ...
  local missing=()
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

ensure_node() {
  command -v node >/dev/null 2>&1 || die "Node.js 20.19 or later is required (https://nodejs.org)"
  # 20.19: the dashboard's build tool (Vite 8) needs it.
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
    || die "Node.js 20.19 or later is required (found $(node --version))"
}

ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies (npm ci; better-sqlite3 may build from source, about a minute)"
    # npm ci refuses a lock file that disagrees with package.json: that is a defect to fix, never to paper over.
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

ensure_build() {
  local newest=
  if [ -f dist/.built ]; then
    # The apps' and libs' sources, the dashboard's (.tsx, .css, index.html) included.
    newest=$(find apps libs \( -name '*.ts' -o -name '*.tsx' -o -name '*.mts' -o -name '*.css' -o -name '*.html' \) \
      ! -name '*.spec.ts' -newer dist/.built | head -n 1)
  fi
  if [ ! -f dist/.built ] || [ ! -f dist/web/index.html ] || [ -n "${newest:-}" ]; then
    log "building (nest build, vite build)"
    npm run --silent build
    touch dist/.built
  fi
}

# redis_answers <host> <port>: true when something answers PING with PONG.
redis_answers() {
  (exec 3<>"/dev/tcp/$1/$2" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ "$reply" == +PONG* ]]) 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ensure_redis <url>: use the Redis at <url>, or start a local redis-server there (loopback only) when none answers.
# It persists like the compose file's Redis: an append-only file under data/redis (fsync every second), so queued
# batches, run state, event logs and sessions survive a restart. REDIS_PERSIST=no starts it without persistence
# (the test run does: its keys are thrown away anyway); runs then survive a Redis restart only through
# reconciliation with the database (docs/deployment.md, "Redis").
ensure_redis() {
  local url=$1 hostport host port
  hostport=${url#*://}; hostport=${hostport##*@}; hostport=${hostport%%/*}
  host=${hostport%:*}; port=${hostport##*:}; [ "$port" = "$hostport" ] && port=6379
  if redis_answers "$host" "$port"; then return 0; fi
  case "$host" in 127.*|localhost) ;; *) die "no Redis answers at $url; start it or set REDIS_URL" ;; esac
  ensure_commands redis-server:redis-server
  mkdir -p data/redis
  local persistence=(--appendonly yes --appendfsync everysec --appendfilename "appendonly-$port.aof")
  [ "${REDIS_PERSIST:-yes}" = no ] && persistence=(--appendonly no)
  log "no Redis at $url: starting a local redis-server on $host:$port (data/redis, append-only file: ${REDIS_PERSIST:-yes})"
  redis-server --port "$port" --bind "$host" --daemonize yes --save '' "${persistence[@]}" \
    --maxmemory-policy noeviction \
    --dir "$PWD/data/redis" --pidfile "$PWD/data/redis/redis-$port.pid" --logfile "$PWD/data/redis/redis-$port.log"
  for _ in $(seq 50); do redis_answers "$host" "$port" && { STARTED_REDIS_PIDFILE="$PWD/data/redis/redis-$port.pid"; return 0; }; sleep 0.1; done
  die "redis-server did not start; see data/redis/redis-$port.log"
}

stop_started_redis() {
  if [ -n "${STARTED_REDIS_PIDFILE:-}" ] && [ -f "$STARTED_REDIS_PIDFILE" ]; then
    kill "$(cat "$STARTED_REDIS_PIDFILE")" 2>/dev/null || true
  fi
}
