# syntax=docker/dockerfile:1
#
# One image for all three processes; the command picks the app:
#   gateway  node dist/apps/gateway/apps/gateway/src/main.js   (the default CMD; HTTP/WS/SSE on :3000)
#   worker   node dist/apps/worker/apps/worker/src/main.js
#   delta    node dist/apps/delta/apps/delta/src/main.js
#
#   docker build -t netscan-orchestrator .
#   docker run --rm netscan-orchestrator node dist/apps/worker/apps/worker/src/main.js
#
# See docs/deployment.md (Docker Compose, Kubernetes, raw-socket scans).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------------------------
# build: compile TypeScript, then keep only the production dependencies.
# ---------------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build

# better-sqlite3 (and msgpackr-extract, used by BullMQ) are native modules: npm ci downloads a prebuilt binary
# when one exists for this Node/arch and compiles from source otherwise, which needs python3, make and g++.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so editing sources does not reinstall them.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build \
 && test -f dist/apps/gateway/apps/gateway/src/main.js \
 && test -f dist/apps/worker/apps/worker/src/main.js \
 && test -f dist/apps/delta/apps/delta/src/main.js \
 && test -f dist/web/index.html \
 && npm prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# nmap: the scanner (the gateway runs it too, for POST /api/nmap/run). ca-certificates: TLS to managed
# PostgreSQL/Redis (rediss://). tini: PID 1 that forwards SIGTERM to node and reaps nmap's exited children.
# mkfifo (coreutils, already in the base image) makes the private pipe nmap writes its XML to.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nmap ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

WORKDIR /app

# Code and dependencies belong to root and are read-only for the process. Only data/ (the embedded SQLite
# default, for a single container without PostgreSQL) is writable by the runtime user.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data

# Non-root by default (the base image's `node` user, uid/gid 1000). nmap then runs unprivileged: connect scans
# (-sT), version detection (-sV), host discovery by TCP connect (-sn) and list scans (-sL) work; raw-socket scan
# types (-sS, -sU, -sA/-sW/-sM/-sN/-sF/-sX, -sY/-sZ, -sO, -O, ICMP/ARP discovery) are refused by nmap with
# "requires root privileges".
#
# Deliberately NO `setcap ... /usr/bin/nmap` here:
#   * file capabilities are not enough: as a non-root user nmap only uses raw sockets when told so with
#     --privileged or NMAP_PRIVILEGED, and the product refuses the flag and strips NMAP_* from nmap's environment;
#   * a binary carrying cap_net_admin/cap_net_raw file capabilities fails to execute at all ("Operation not
#     permitted") in a container whose bounding set lacks them (Docker's default set has no NET_ADMIN; a
#     cap_drop: [ALL] container has neither), which would break every scan, -sT included.
# Raw-socket scans are an explicit opt-in per deployment: run that worker as uid 0 with every capability dropped
# except NET_RAW (docs/deployment.md, "Raw-socket scans"). --privileged containers are never needed.
USER node

EXPOSE 3000

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/apps/gateway/apps/gateway/src/main.js"]
