#!/bin/sh
# As the official redis image's entrypoint: options alone mean redis-server; started as root, it takes
# ownership of /data (a fresh volume may belong to root) and drops to the redis user.
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  shift
  # The official image builds Redis with protected mode off: the container network is the boundary.
  set -- redis-server --protected-mode no "$@"
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
