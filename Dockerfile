# The worker image for docker-compose.yml.
# NODE_IMAGE: any image with node 20+, npm and /bin/sh. Machines that cannot pull use a base made
# from the host's own node (scripts/stack/node-base-image.ts; test/integration/worker-image.test.ts).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
WORKDIR /app
# pg_dump and pg_restore for `backup.method: pg_dump`. Their major version must be no older than the
# database server's: Debian bookworm's postgresql-client is 15, the server in docker-compose.yml is
# postgres:15, and the worker checks the pair at start (src/worker/pg-dump-check.ts). A base that
# already has pg_dump (the one made from the host) keeps its own. For a newer server, install
# postgresql-client-<major> from apt.postgresql.org here, or name a directory in backup.pgBin.
RUN if ! command -v pg_dump >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*; \
    fi && pg_dump --version && pg_restore --version
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# The same image runs the codec server (docker-compose.yml's codec-server: another command).
COPY scripts/codec-server.ts ./scripts/
# The workflow bundle, made once here for this source (both codec settings), so a worker starts
# polling within a second instead of bundling for seconds at each start (src/worker/workflow-bundle.ts).
ENV NOCOBASE_MAINTENANCE_BUNDLE_DIR=/app/.workflow-bundles
RUN node_modules/.bin/tsx src/worker/workflow-bundle.ts
# Runs as root: it drives the host's Docker Engine through the mounted socket.
CMD ["node_modules/.bin/tsx", "src/worker/main.ts"]
