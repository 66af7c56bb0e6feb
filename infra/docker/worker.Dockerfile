# syntax=docker/dockerfile:1
#
# Hopper worker image. Build from the repository root (the context is the whole repo):
#   docker build -f infra/docker/worker.Dockerfile -t hopper-worker .
#
# There is no compile step: Node 24 runs the TypeScript sources directly (type stripping). The
# image is linux/amd64 on Debian (glibc) because LanceDB ships its native engine as a prebuilt
# linux-x64-gnu package; Alpine (musl) or arm64 would need another prebuilt binary.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# 1. Only the package manifests, so the dependency layer below is rebuilt when they change and
#    not on every source edit (COPY caches by content: same manifests, same layer).
FROM --platform=linux/amd64 ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && find . -name package.json -not -path '*/node_modules/*' | tar -cf - -T - | tar -xf - -C /manifests \
 && cp package-lock.json /manifests/

# 2. Production dependencies only, with LanceDB's native linux-x64-gnu engine. `npm install`
#    rather than `npm ci`: the lock file lists only this platform's optional native packages
#    (see .ci/run); it still pins every version.
FROM --platform=linux/amd64 ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN npm install --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && node -e "import('@lancedb/lancedb').then(() => console.log('LanceDB native engine loads'))"

# 3. The runtime: dependencies and the sources the worker runs; nothing else.
FROM --platform=linux/amd64 ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOPPER_DATA_DIR=/data \
    HOPPER_WORKER_METRICS_PORT=9464
WORKDIR /app
COPY --from=deps /app/ ./
COPY libs/ libs/
COPY apps/worker/ apps/worker/
# The sources stay owned by root (read-only to the process); only the data directory is writable.
RUN mkdir -p /data && chown node:node /data
USER node
# /metrics and /healthz (Prometheus and probes); the worker serves nothing else.
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HOPPER_WORKER_METRICS_PORT || 9464}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself: running jobs finish within HOPPER_WORKER_DRAIN_MS,
# the rest go back to the queue for another worker.
CMD ["node", "apps/worker/src/main.ts"]
