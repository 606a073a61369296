# Podman set-up for scripts/test-deploy.sh (and for trying the deployment without Docker, docs/deployment.md):
# installs podman and its helpers from Debian, writes a private containers.conf, and makes the images that cannot
# be pulled on a machine without a registry. Sourced after scripts/lib/setup.sh, not run.

DEPLOY_DIR=${DEPLOY_DIR:-$PWD/.tmp/deploy}
BASE_IMAGE=node:20-bookworm-slim            # the Dockerfile's NODE_IMAGE
DEBIAN_IMAGE=localhost/debian:bookworm-slim # what the local base and the stand-ins are made from
# NSO_PULL=missing lets podman pull what is not there yet (a machine with a registry); the default never tries.
NSO_PULL=${NSO_PULL:-never}

ensure_podman() {
  ensure_commands podman:podman buildah:buildah podman-compose:podman-compose debootstrap:debootstrap \
    runc:runc slirp4netns:slirp4netns fuse-overlayfs:fuse-overlayfs newuidmap:uidmap
  # CNI plugins (bridge networks) and the dnsname plugin (service names resolve on a compose network).
  [ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
  [ -x /usr/lib/cni/dnsname ] || apt_install golang-github-containernetworking-plugin-dnsname
  podman_conf
}

# A private containers.conf, exported as CONTAINERS_CONF so that nothing else on the machine changes:
# - runc: crun refuses hosts with hybrid cgroups (v1 controllers plus an unused v2 mount), as here;
# - cgroupfs and a file events log: there is no systemd or journald to talk to;
# - ulimits set to what the host allows: root cannot raise its own limits here, and podman's default
#   (nofile 1048576) would make every container fail to start;
# - pull_policy never (unless NSO_PULL says otherwise): no registry answers, so a pull only fails slowly.
podman_conf() {
  mkdir -p "$DEPLOY_DIR"
  local nofile nproc
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=1048576
  [ "$nofile" -gt 20000 ] && nofile=20000
  [ "$nproc" -gt 32768 ] && nproc=32768
  cat >"$DEPLOY_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DEPLOY_DIR/events.log"
pull_policy = "$NSO_PULL"
EOF
  export CONTAINERS_CONF="$DEPLOY_DIR/containers.conf"
}

image_present() { podman image exists "$1"; }

# The apt mirror this machine already uses (the first Debian URI in its sources), so that debootstrap and the
# images' apt-get reach the same place.
debian_mirror() {
  local uri
  uri=$(grep -hoE '(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^[:space:]]+' | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

# localhost/debian:bookworm-slim: a debootstrap minbase of bookworm with the security and updates suites.
ensure_debian_image() {
  image_present "$DEBIAN_IMAGE" && return 0
  local mirror rootfs
  mirror=$(debian_mirror)
  rootfs=$(mktemp -d /var/tmp/nso-rootfs.XXXXXX)
  log "making $DEBIAN_IMAGE with debootstrap (minbase, $mirror; about 30 s)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$DEPLOY_DIR/debootstrap.log" 2>&1 ||
    { rm -rf "$rootfs"; die "debootstrap failed, see $DEPLOY_DIR/debootstrap.log"; }
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner -c . |
    podman import -q --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

# node:20-bookworm-slim as the Dockerfile expects it: Node 20 and npm in /usr/local, a `node` user with uid and
# gid 1000. Made from this machine's own Node 20 (binary, npm, headers: better-sqlite3 compiles from source when
# it cannot download its prebuilt binary, and node-gyp then needs the headers) and the extra CA certificates it
# trusts (npm ci in the build stage reaches the registry through the same TLS-inspecting proxy, if any).
ensure_base_image() {
  image_present "$BASE_IMAGE" && return 0
  if [ "$NSO_PULL" != never ] && podman pull -q "docker.io/library/$BASE_IMAGE" >/dev/null; then return 0; fi
  ensure_debian_image
  local node_bin npm_dir ctx major
  node_bin=$(readlink -f "$(command -v node)")
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" = 20 ] || die "the local $BASE_IMAGE is made from this machine's Node 20 (found $(node --version))"
  npm_dir=$(npm root -g)/npm
  [ -f "$(dirname "$node_bin")/../include/node/node.h" ] || die "Node's headers (include/node) are missing"
  log "making localhost/$BASE_IMAGE from $DEBIAN_IMAGE and this machine's Node $(node --version)"
  ctx=$(mktemp -d /var/tmp/nso-node.XXXXXX)
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules" "$ctx/usr/local/include" "$ctx/ca"
  cp "$node_bin" "$ctx/usr/local/bin/node"
  cp -a "$npm_dir" "$ctx/usr/local/lib/node_modules/npm"
  cp -a "$(dirname "$node_bin")/../include/node" "$ctx/usr/local/include/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
  local extra_ca=
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cat /usr/local/share/ca-certificates/*.crt >"$ctx/ca/extra-ca.pem"
    extra_ca='ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/extra-ca.pem'
  fi
  cat >"$ctx/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY usr/local /usr/local
COPY ca /usr/local/share/ca-certificates
$extra_ca
ENV npm_config_nodedir=/usr/local
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
EOF
  podman build --pull=never -q -t "localhost/$BASE_IMAGE" "$ctx" >/dev/null ||
    { rm -rf "$ctx"; die "building localhost/$BASE_IMAGE failed"; }
  rm -rf "$ctx"
}

# postgres:16 and redis:7, the images docker-compose.yml names, made from Debian's packages (PostgreSQL 15,
# Redis 7.0) with the official images' interface: the same environment variables, data directories, entrypoint
# behaviour and tools (pg_isready, redis-cli). See test/deploy/standins/.
ensure_standin_images() {
  local name
  for name in postgres:16 redis:7; do
    image_present "$name" && continue
    if [ "$NSO_PULL" != never ] && podman pull -q "docker.io/library/$name" >/dev/null; then continue; fi
    ensure_debian_image
    log "making a stand-in for $name from Debian's packages"
    podman build --pull=never -q -t "localhost/$name" "test/deploy/standins/${name%%:*}" >/dev/null ||
      die "building the stand-in for $name failed"
  done
}
