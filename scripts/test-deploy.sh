#!/usr/bin/env bash
# The deployment test: builds the image from the Dockerfile, brings docker-compose.yml up with podman-compose and
# plays the k8s/ Deployments with `podman kube play`, then checks what a user would: the image's least privilege,
# a healthy stack, a login, a loopback scan and its events, a delta report, a clean stop, data kept across a
# restart, healthy pods. One `ok - …` line per check; the first failure prints `not ok - …`, the logs that explain
# it, and exits 1. Everything it starts (containers, pods, the network, volumes, the podman secret) is removed at
# the end, pass or fail; the images stay, so that a rerun reuses the layer cache.
#
#   bash scripts/test-deploy.sh
#
# Needs root (podman) and a Debian-like machine: podman, buildah, podman-compose, debootstrap, ... are installed
# when missing. No registry is needed: the base image and stand-ins for postgres:16 and redis:7 are made locally
# (scripts/lib/podman.sh); NSO_PULL=missing lets podman pull them instead where a registry answers. Scans target
# 127.0.0.1 inside the containers only. NSO_DEPLOY_KEEP=1 leaves the last stack running for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
source scripts/lib/podman.sh

T0=$(date +%s)
PROJECT=nso-deploytest
IMAGE=localhost/netscan-orchestrator:local # the compose file's default NSO_IMAGE
CHECKS="$DEPLOY_DIR/checks.txt"
NETWORK="${PROJECT}_default"
export ADMIN_PASSWORD="Deploy-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')"

ok() { echo "ok - $*" | tee -a "$CHECKS"; }
fail() {
  echo "not ok - $*" | tee -a "$CHECKS"
  exit 1
}
secs() { echo $(($(date +%s) - $1)); }
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
# Runs the user-flow script; its ok/not ok lines count as checks.
user_flow() { node test/deploy/user-flow.mjs "$@" | tee -a "$CHECKS"; }

[ "$(id -u)" = 0 ] || die "run as root: podman here runs rootful (see docs/deployment.md, Try it without Docker)"
ensure_node
ensure_node_modules # js-yaml for test/deploy/kube-play.mjs
ensure_podman
rm -f "$CHECKS"

# A copy of docker-compose.yml in a directory of its own: podman-compose 1.0 reads the .env next to the file and
# lets it override the environment, so a developer's .env must not leak into the test. The file is the same.
COMPOSE_DIR="$DEPLOY_DIR/compose"
compose() { (cd "$COMPOSE_DIR" && podman-compose -p "$PROJECT" "$@") >>"$DEPLOY_DIR/compose.log" 2>&1; }

cleanup() {
  local status=$?
  set +e
  if [ "$status" != 0 ]; then
    log "logs of the failed run (last lines of each container; all of podman-compose's in $DEPLOY_DIR/compose.log)"
    for c in $(podman ps -a --format '{{.Names}}' --filter "label=io.podman.compose.project=$PROJECT") \
      $(podman ps -a --format '{{.Names}}' --filter 'name=^netscan-' 2>/dev/null); do
      echo "--- $c"
      podman logs --tail 25 "$c" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
    done
  fi
  if [ "${NSO_DEPLOY_KEEP:-}" = 1 ]; then
    log "NSO_DEPLOY_KEEP=1: leaving the stack of project $PROJECT running"
    return
  fi
  # Pods and the secret only when this run (or an interrupted one: its files are still there) made them.
  if [ -f "$DEPLOY_DIR/kube/play.yaml" ]; then podman kube down "$DEPLOY_DIR/kube/play.yaml" >/dev/null 2>&1; fi
  if [ -f "$DEPLOY_DIR/kube/secret.json" ]; then podman secret rm netscan-secrets >/dev/null 2>&1; fi
  [ -f "$COMPOSE_DIR/docker-compose.yml" ] && compose down -v
  podman rm -f $(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT") >/dev/null 2>&1
  podman volume rm $(podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT") >/dev/null 2>&1
  podman network rm -f "$NETWORK" >/dev/null 2>&1
  rm -rf "$COMPOSE_DIR" "$DEPLOY_DIR/kube"
  local passed
  passed=$(grep -c '^ok - ' "$CHECKS" 2>/dev/null || true)
  if [ "$status" = 0 ]; then
    log "deployment test: all ${passed} checks passed in $(secs "$T0") s; cleaned up (images kept for the layer cache)"
  else
    log "deployment test FAILED after ${passed:-0} checks passed ($(secs "$T0") s); cleaned up"
  fi
}
trap cleanup EXIT
# A stop request fails the run (and still cleans up), after the command running then has ended.
trap 'exit 143' TERM
trap 'exit 130' INT
# Leftovers of an interrupted run (same project name) would make `up` fail.
cleanup_leftovers() { (trap - EXIT; NSO_DEPLOY_KEEP= cleanup) >/dev/null 2>&1 || true; }
mkdir -p "$COMPOSE_DIR"
cp docker-compose.yml "$COMPOSE_DIR/"
cleanup_leftovers
mkdir -p "$COMPOSE_DIR" "$DEPLOY_DIR/kube"
cp docker-compose.yml "$COMPOSE_DIR/"
: >"$DEPLOY_DIR/compose.log"

# ---------------------------------------------------------------------------------------------------------------
log "images: the base and the stand-ins (made once), then the application image"
t=$(date +%s)
ensure_base_image
ensure_standin_images
ok "base image $BASE_IMAGE and stand-ins postgres:16, redis:7 present ($(secs "$t") s)"

pull=never
[ "$NSO_PULL" != never ] && pull=missing
t=$(date +%s)
podman build --pull="$pull" -t "$IMAGE" . >"$DEPLOY_DIR/build.log" 2>&1 ||
  { tail -40 "$DEPLOY_DIR/build.log"; fail "podman build of the Dockerfile (log: $DEPLOY_DIR/build.log)"; }
build_s=$(secs "$t")
# Every step but FROM can come from the cache.
steps=$(grep -E '^\[[0-9]+/[0-9]+\] STEP|^STEP ' "$DEPLOY_DIR/build.log" | grep -vc ' FROM ' || true)
cached=$(grep -c -- '--> Using cache' "$DEPLOY_DIR/build.log" || true)
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
ok "image built from the Dockerfile in ${build_s} s, $((size / 1000000)) MB; ${cached} of ${steps} steps from the layer cache"

# ---------------------------------------------------------------------------------------------------------------
log "the image: least privilege"
user=$(podman image inspect -f '{{.Config.User}}' "$IMAGE")
ids=$(podman run --rm --pull=never "$IMAGE" sh -c 'echo "$(id -u):$(id -g)"')
[ "$user" = node ] && [ "$ids" = 1000:1000 ] || fail "the image runs as $user ($ids), not node (1000:1000)"
ok "the image runs as the user node, uid 1000 gid 1000"
caps=$(podman run --rm --pull=never "$IMAGE" grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status | awk '{print $2}' | sort -u)
[ "$caps" = 0000000000000000 ] || fail "the image's process holds capabilities: $caps"
# As the compose file and the manifests run it: every capability dropped, no privilege gain, read-only root.
hardened=(--rm --pull=never --read-only --tmpfs /tmp --cap-drop=ALL --security-opt no-new-privileges)
status=$(podman run "${hardened[@]}" "$IMAGE" grep -E '^(Cap(Prm|Eff|Amb|Bnd)|NoNewPrivs)' /proc/self/status)
[ "$(echo "$status" | grep Cap | awk '{print $2}' | sort -u)" = 0000000000000000 ] &&
  echo "$status" | grep -qE 'NoNewPrivs:\s+1' || fail "capabilities with cap_drop ALL: $status"
ok "no capabilities: none held by default, and none even in the bounding set with cap_drop ALL (no-new-privileges on)"
podman run "${hardened[@]}" "$IMAGE" sh -c \
  'touch /app/probe 2>/dev/null && exit 1; touch /app/data/probe 2>/dev/null && exit 1; touch /tmp/probe' ||
  fail "read-only root: /app writable or /tmp not writable"
podman run --rm --pull=never "$IMAGE" sh -c 'touch /app/dist/probe /app/node_modules/probe 2>/dev/null && exit 1; exit 0' ||
  fail "code and dependencies are writable by the runtime user"
ok "read-only root file system: nothing but /tmp is writable; code and dependencies belong to root even without it"
# Packages the lock file marks dev-only (reachable from devDependencies alone) must not be in the image.
node -e '
  const lock = require("./package-lock.json").packages;
  for (const [path, entry] of Object.entries(lock)) if (path && entry.dev) console.log(path);
' >"$DEPLOY_DIR/dev-packages.txt"
present=$(podman run -i --rm --pull=never "$IMAGE" sh -c 'while read -r p; do [ -e "/app/$p" ] && echo "$p"; done; true' \
  <"$DEPLOY_DIR/dev-packages.txt")
[ -z "$present" ] || fail "dev dependencies in the image: $(echo "$present" | head -5 | tr '\n' ' ')"
ok "no dev dependencies in the image (none of the $(wc -l <"$DEPLOY_DIR/dev-packages.txt") dev-only packages of package-lock.json)"
podman run --rm --pull=never -w /app "$IMAGE" node -e '
  const Database = require("better-sqlite3");
  new Database(":memory:").prepare("select 1").get();
  require("msgpackr-extract");
' || fail "the native modules (better-sqlite3, msgpackr-extract) do not load in the image"
ok "the native modules load in the image (better-sqlite3 for the SQLite default, msgpackr-extract for BullMQ)"
built=$(podman run --rm --pull=never "$IMAGE" sh -c 'ls /app/dist/apps; [ -d /app/dist/web ] && echo web; true' | tr '\n' ' ')
for app in gateway worker delta $([ -d apps/web ] && echo web); do
  [[ " $built" == *" $app "* ]] || fail "dist/ of the image lacks $app (holds: $built)"
done
ok "the image holds all of npm run build's dist/: ${built% }"

# ---------------------------------------------------------------------------------------------------------------
log "Docker Compose file with podman-compose $(podman-compose version 2>/dev/null | grep -oE 'podman-compose(r)? version +[0-9.]+' | grep -oE '[0-9.]+$')"
GATEWAY_PORT=$(free_port)
export GATEWAY_PUBLISH="127.0.0.1:$GATEWAY_PORT"
BASE="http://127.0.0.1:$GATEWAY_PORT"

# Healthy: every health check of the file passes (podman without systemd runs none by itself, so they are run
# here, as Docker would), and the worker and delta services keep their heartbeat in Redis.
wait_healthy() {
  local deadline=$(($(date +%s) + ${1:-240})) c bad
  while [ "$(date +%s)" -lt "$deadline" ]; do
    bad=
    for c in postgres redis gateway; do
      podman healthcheck run "${PROJECT}_${c}_1" >/dev/null 2>&1 || bad="$bad $c"
    done
    for c in worker delta; do
      [ "$(podman inspect -f '{{.State.Running}}' "${PROJECT}_${c}_1" 2>/dev/null)" = true ] || bad="$bad $c"
      podman exec "${PROJECT}_redis_1" redis-cli --scan --pattern "nso:heartbeat:$c:*" 2>/dev/null | grep -q . ||
        bad="$bad $c(heartbeat)"
    done
    [ -z "$bad" ] && return 0
    sleep 1
  done
  fail "the compose stack is not healthy after ${1:-240} s:$bad"
}

t=$(date +%s)
compose up -d || fail "podman-compose up (log: $DEPLOY_DIR/compose.log)"
wait_healthy
up_s=$(secs "$t")
restarts=$(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' |
  xargs podman inspect -f '{{.RestartCount}}' | awk '{s += $1} END {print s}')
ok "podman-compose up: postgres, redis, gateway healthy, worker and delta beating, in ${up_s} s (${restarts} restarts)"
podman inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "${PROJECT}_worker_1" | grep -q '^node true$' ||
  fail "the worker container does not run as node with a read-only root"

user_flow first "$BASE" "$DEPLOY_DIR/state.json" || fail "the user's first steps (above)"

# Drain: a worker told to stop while nmap runs finishes the batch, then exits 0 (well within stop_grace_period).
user_flow slow "$BASE" "$DEPLOY_DIR/state.json" || fail "a slow scan did not start"
t=$(date +%s)
stop_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
compose stop -t 600 worker
stop_s=$(secs "$t")
code=$(podman inspect -f '{{.State.ExitCode}}' "${PROJECT}_worker_1")
[ "$code" = 0 ] || fail "the worker exited $code when stopped during a batch"
exited_at=$(podman inspect -f '{{.State.FinishedAt}}' "${PROJECT}_worker_1")
user_flow drained "$BASE" "$DEPLOY_DIR/state.json" "$stop_at" "$exited_at" ||
  fail "the batch running at the stop was not finished"
ok "the worker stopped during a batch finished it first, then exited 0 (${stop_s} s)"
t=$(date -u +%Y-%m-%dT%H:%M:%SZ)
compose start worker
# Stopped again only once ready: SIGTERM during start-up (before the shutdown hooks exist) ends it with 143.
deadline=$(($(date +%s) + 120))
until podman logs --since "$t" "${PROJECT}_worker_1" 2>&1 | grep -q ' ready (concurrency'; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the worker did not start again"
  sleep 1
done

# Stop: each service within its grace period, cleanly (exit 0, no SIGKILL).
t=$(date +%s)
compose stop -t 60 || fail "podman-compose stop"
stop_s=$(secs "$t")
codes=$(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}={{.State}}' |
  while IFS== read -r name _; do echo "${name#"${PROJECT}_"}:$(podman inspect -f '{{.State.ExitCode}}' "$name")"; done | sort | tr '\n' ' ')
[[ "$codes" =~ :[1-9] ]] && fail "exit codes after stop: $codes"
ok "podman-compose stop: every service exited 0 in ${stop_s} s in all (${codes% })"
compose down || fail "podman-compose down"
[ -z "$(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT")" ] || fail "containers left after down"
ok "podman-compose down removed the containers; the volumes stay"

t=$(date +%s)
compose up -d || fail "podman-compose up after down"
wait_healthy
ok "up again: healthy in $(secs "$t") s"
user_flow restarted "$BASE" "$DEPLOY_DIR/state.json" || fail "data lost across the restart"

# ---------------------------------------------------------------------------------------------------------------
log "Kubernetes manifests with podman kube play $(podman version -f '{{.Client.Version}}')"
# The pods use the compose stack's PostgreSQL and Redis (on its network); its own app services step aside.
compose stop gateway worker delta
KUBE_PORT=$(free_port)
DATABASE_URL="postgres://netscan:netscan@postgres:5432/netscan" REDIS_URL="redis://redis:6379/0" \
  node test/deploy/kube-play.mjs "$DEPLOY_DIR/kube" "$IMAGE" "$KUBE_PORT" >/dev/null ||
  fail "making the kube play files from k8s/"
podman secret create netscan-secrets "$DEPLOY_DIR/kube/secret.json" >/dev/null ||
  fail "podman secret create netscan-secrets (one of that name exists already: remove it first)"
t=$(date +%s)
podman kube play --network "$NETWORK" "$DEPLOY_DIR/kube/play.yaml" >"$DEPLOY_DIR/kube/play.log" 2>&1 ||
  { cat "$DEPLOY_DIR/kube/play.log"; fail "podman kube play"; }
KUBE_BASE="http://127.0.0.1:$KUBE_PORT"
deadline=$(($(date +%s) + 240))
until node test/deploy/user-flow.mjs health "$KUBE_BASE" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the gateway pod never answered /api/health with 200"
  sleep 1
done
# Each Deployment's liveness probe, run as the kubelet runs an exec probe: its argv in the container, no shell.
# (podman 4.3 turns exec probes into shell command lines by joining the words, which breaks a `node -e` script;
# the kubelet does not.)
probe() { # probe <deployment file> <deployment> <container> [podman exec options]
  node -e '
    const { loadAll } = require(process.cwd() + "/node_modules/js-yaml");
    const [file, name] = process.argv.slice(1);
    const d = loadAll(require("fs").readFileSync(file, "utf8")).find((x) => x?.kind === "Deployment" && x.metadata.name === name);
    process.stdout.write(d.spec.template.spec.containers[0].livenessProbe.exec.command.join("\0"));
  ' "$1" "$2" | xargs -0 podman exec "${@:4}" "$3"
}
deadline=$(($(date +%s) + 120))
for d in gateway worker delta; do
  until probe "k8s/$d.yaml" "netscan-$d" "netscan-$d-pod-0-$d" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "the liveness probe of netscan-$d keeps failing"
    sleep 1
  done
done
ok "podman kube play: the gateway, worker and delta pods are healthy in $(secs "$t") s (readiness /api/health 200, every liveness probe passes)"
# The heartbeat probe can fail: for a worker id that beats nowhere it does.
if probe k8s/worker.yaml netscan-worker netscan-worker-pod-0-worker -e WORKER_ID=no-such-worker >/dev/null 2>&1; then
  fail "the worker's liveness probe passes for a worker that does not exist"
fi
for d in gateway worker delta; do
  c="netscan-$d-pod-0-$d"
  read -r u ro <<<"$(podman inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$c")"
  bnd=$(podman exec "$c" grep CapBnd /proc/1/status | awk '{print $2}')
  [ "${u%%:*}" = 1000 ] && [ "$ro" = true ] && [ "$bnd" = 0000000000000000 ] ||
    fail "$c runs as $u, read-only root $ro, bounding set $bnd"
done
ok "the pods run as uid 1000 with a read-only root and no capabilities (their securityContext)"
user_flow scan "$KUBE_BASE" "$DEPLOY_DIR/state.json" netscan-worker || fail "a scan through the pods"
t=$(date +%s)
podman kube down "$DEPLOY_DIR/kube/play.yaml" >/dev/null 2>&1 || fail "podman kube down"
ok "podman kube down in $(secs "$t") s"

total=$(secs "$T0")
# Ten minutes at most once the images exist; the first run on a machine also makes them (minutes more on a busy
# machine), so a cold build only reports its time.
if [ "$cached" -lt "$steps" ]; then
  log "the whole run took ${total} s, ${build_s} s of it a build with $((steps - cached)) uncached steps"
else
  [ "$total" -lt 600 ] || fail "the deployment test took ${total} s with a cached build, more than 10 minutes"
fi
ok "the deployment test ran in ${total} s (image build ${build_s} s, compose up to healthy ${up_s} s)"
# One plain closing line that any CI can read (each check above printed `ok - …`; the first failure exits 1).
echo "deploy checks: $(grep -c '^ok - ' "$CHECKS") passed, 0 failed"
